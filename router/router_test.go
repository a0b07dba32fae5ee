package router_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tocsin/tocsin/router"
)

// TestRouter: what every response shares, whoever mounted the route: the
// method dispatch, a JSON 404 and 405 (with Allow), the CORS preflight,
// and the origins allowed to read.
func TestRouter(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	for _, tc := range []struct {
		name, origin, method, path string
		origins                    []string
		code                       int
		body, allow, allowOrigin   string
	}{
		{"mounted", "", http.MethodGet, "/a/x", nil, 200, "ok", "", "*"},
		{"added later to the same pattern", "", http.MethodPost, "/a/x", nil, 200, "ok", "", "*"},
		{"unknown path", "", http.MethodGet, "/nope", nil, 404, `{"error":"not found"}`, "", "*"},
		{"wrong method", "", http.MethodDelete, "/a/x", nil, 405, `{"error":"method not allowed"}`, "GET, POST, OPTIONS", "*"},
		{"preflight", "https://w.example", http.MethodOptions, "/a/x", nil, 204, "", "GET, POST, OPTIONS", "*"},
		{"allowed origin", "https://w.example", http.MethodGet, "/a/x", []string{"https://w.example"}, 200, "ok", "", "https://w.example"},
		{"other origin", "https://evil.example", http.MethodGet, "/a/x", []string{"https://w.example"}, 200, "ok", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rt := router.New(router.Options{CORSOrigins: tc.origins, ExposeHeaders: []string{"ETag"}})
			rt.Handle("/a/{id}", []string{http.MethodGet}, ok)
			rt.Handle("/a/{id}", []string{http.MethodPost}, ok)
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			w := httptest.NewRecorder()
			rt.ServeHTTP(w, req)
			h := w.Result().Header
			if w.Code != tc.code || strings.TrimSpace(w.Body.String()) != tc.body || h.Get("Allow") != tc.allow ||
				h.Get("Access-Control-Allow-Origin") != tc.allowOrigin {
				t.Errorf("%s %s = %d %q Allow %q origin %q; want %d %q %q %q", tc.method, tc.path, w.Code, w.Body,
					h.Get("Allow"), h.Get("Access-Control-Allow-Origin"), tc.code, tc.body, tc.allow, tc.allowOrigin)
			}
			if want := map[bool]string{true: "ETag", false: ""}[tc.allowOrigin != ""]; h.Get("Access-Control-Expose-Headers") != want {
				t.Errorf("Expose-Headers %q, want %q", h.Get("Access-Control-Expose-Headers"), want)
			}
		})
	}
}

// TestRouterPanicsOnADuplicate: mounting a method twice at one pattern is
// a programming error, as with ServeMux.
func TestRouterPanicsOnADuplicate(t *testing.T) {
	t.Parallel()
	rt := router.New(router.Options{})
	rt.Handle("/a", []string{http.MethodGet}, http.NotFoundHandler())
	defer func() {
		if recover() == nil {
			t.Error("a second GET /a did not panic")
		}
	}()
	rt.Handle("/a", []string{http.MethodGet}, http.NotFoundHandler())
}
