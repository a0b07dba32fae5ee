package jsonhttp

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestError(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	Error(rec, http.StatusBadRequest, `bad "x"`)
	if rec.Code != http.StatusBadRequest || rec.Body.String() != `{"error":"bad \"x\""}` ||
		rec.Header().Get("Content-Type") != "application/json; charset=utf-8" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("got %d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
	rec = httptest.NewRecorder()
	Write(rec, http.StatusOK, func() {}) // cannot be encoded
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("unencodable value: %d", rec.Code)
	}
}
