// Package jsonhttp writes the uncached JSON responses of tocsin's API: bad
// input gets {"error": "..."} naming the problem.
package jsonhttp

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error writes {"error": msg} with status code.
func Error(w http.ResponseWriter, code int, msg string) {
	Write(w, code, map[string]string{"error": msg})
}

// Write writes v as an uncached JSON response with status code.
func Write(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		code, data = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(code)
	_, _ = w.Write(data)
}
