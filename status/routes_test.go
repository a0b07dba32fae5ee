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
		{"/", contentTypeHTML, `<meta http-equiv="refresh" content="60">`, http.StatusOK},
		{"/?refresh=off", contentTypeHTML, `automatic refresh is off (<a href="/">turn it on</a>)`, http.StatusOK},
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

// TestPageRefreshCanStop: the front page refreshes itself unless asked not
// to (WCAG 2.2.1); the history page, an archive, never does.
func TestPageRefreshCanStop(t *testing.T) {
	t.Parallel()
	in := uptimeInputs()
	h := newTestServer(t, ServerOptions{}, &in).Handler()
	for path, refreshes := range map[string]bool{"/": true, "/?refresh=off": false, "/history": false} {
		body := do(t, h, http.MethodGet, path, nil).Body.String()
		if got := strings.Contains(body, `http-equiv="refresh"`); got != refreshes {
			t.Errorf("GET %s: refreshes %v, want %v", path, got, refreshes)
		}
	}
	if body := do(t, h, http.MethodGet, "/history", nil).Body.String(); !strings.Contains(body, `<h4><a href="https://status.acme.example/incidents/oldincident01">Email delays</a></h4>`) {
		t.Error("incidents under a month heading should be h4")
	}
}
