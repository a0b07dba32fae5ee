package status

import (
	"net/http"
	"strings"
	"testing"
)

// TestPageRoutes: the page, history, feeds and badges are served from the
// snapshot with their content types, ETags and gzip like the JSON.
func TestPageRoutes(t *testing.T) {
	t.Parallel()
	in := uptimeInputs()
	h := newTestServer(t, ServerOptions{}, &in).Handler()
	for _, tc := range []struct {
		path, contentType, contains string
		code                        int
	}{
		{"/", contentTypeHTML, `id="banner"`, http.StatusOK},
		{"/history", contentTypeHTML, "Incident history", http.StatusOK},
		{"/history.atom", contentTypeAtom, "<feed", http.StatusOK},
		{"/history.rss", contentTypeRSS, "<rss", http.StatusOK},
		{"/badge.svg", contentTypeSVG, "major outage", http.StatusOK},
		{"/badge/web-app.svg", contentTypeSVG, "degraded performance", http.StatusOK},
		{"/badge/grp-help-desk.svg", contentTypeSVG, "<svg", http.StatusOK},
		{"/badge/nope.svg", contentTypeJSON, "not found", http.StatusNotFound},
		{"/badge/web-app", contentTypeJSON, "not found", http.StatusNotFound},
	} {
		rec := do(t, h, http.MethodGet, tc.path, map[string]string{"Accept-Encoding": "identity"})
		if rec.Code != tc.code || rec.Header().Get("Content-Type") != tc.contentType ||
			!strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("GET %s = %d %q %.120q; want %d %q containing %q", tc.path, rec.Code,
				rec.Header().Get("Content-Type"), rec.Body, tc.code, tc.contentType, tc.contains)
			continue
		}
		if tc.code != http.StatusOK {
			continue
		}
		etag := rec.Header().Get("ETag")
		if rec := do(t, h, http.MethodGet, tc.path, map[string]string{"If-None-Match": etag}); etag == "" ||
			rec.Code != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %q = %d, want 304", tc.path, etag, rec.Code)
		}
		if rec.Header().Get("Cache-Control") != "public, max-age=10" {
			t.Errorf("GET %s Cache-Control %q", tc.path, rec.Header().Get("Cache-Control"))
		}
	}
}
