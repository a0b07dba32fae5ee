package status

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func newTestServer(t testing.TB, o ServerOptions, in *Inputs) *Server {
	t.Helper()
	s := NewServer(o)
	if in != nil {
		s.Set(mustBuild(t, *in))
	}
	return s
}

func do(t testing.TB, h http.Handler, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != contentTypeJSON {
		t.Errorf("Content-Type = %q, want JSON", ct)
	}
	var body struct{ Error string }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q: %v", rec.Body.String(), err)
	}
	return body.Error
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	in := scenarios()[1].in
	h := newTestServer(t, ServerOptions{}, &in).Handler()
	tests := []struct {
		path, ctype string
		code        int
	}{
		{"/", contentTypeHTML, 200},
		{pathStatus, contentTypeJSON, 200},
		{pathSummary, contentTypeJSON, 200},
		{pathComponents, contentTypeJSON, 200},
		{pathIncidents, contentTypeJSON, 200},
		{pathUnresolved, contentTypeJSON, 200},
		{pathMaintenances, contentTypeJSON, 200},
		{pathMaintUpcoming, contentTypeJSON, 200},
		{pathMaintActive, contentTypeJSON, 200},
		{pathChecks, contentTypeJSON, 200},
		{pathChecks + "/web-app-home", contentTypeJSON, 200},
		{pathChecks + "/smtp-inbound", contentTypeJSON, 200},
		{pathChecks + "/nope", contentTypeJSON, 404},
		{"/healthz", contentTypeJSON, 200},
		{"/readyz", contentTypeJSON, 200},
		{"/nope", contentTypeJSON, 404},
		{"/api/v2/nope.json", contentTypeJSON, 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			rec := do(t, h, http.MethodGet, tt.path, nil)
			if rec.Code != tt.code || rec.Header().Get("Content-Type") != tt.ctype {
				t.Fatalf("GET %s = %d %q, want %d %q: %s", tt.path, rec.Code, rec.Header().Get("Content-Type"),
					tt.code, tt.ctype, rec.Body.String())
			}
			if tt.code == 200 && tt.ctype == contentTypeJSON {
				decode(t, rec.Body.Bytes())
			}
			if tt.code == 404 && errorOf(t, rec) == "" {
				t.Error("404 without an error message")
			}
		})
	}
	if got := do(t, h, http.MethodGet, "/healthz", nil).Body.String(); got != `{"status":"ok"}` {
		t.Errorf("healthz = %s", got)
	}
}

func TestSnapshotHeaders(t *testing.T) {
	t.Parallel()
	in := scenarios()[0].in
	h := newTestServer(t, ServerOptions{}, &in).Handler()
	rec := do(t, h, http.MethodGet, pathSummary, nil)
	hd := rec.Header()
	if hd.Get("Cache-Control") != "public, max-age=10" || hd.Get("Vary") != "Accept-Encoding" ||
		hd.Get("Access-Control-Allow-Origin") != "*" || hd.Get("X-Tocsin-Stale") != "" {
		t.Errorf("headers = %v", hd)
	}
	etag := hd.Get("ETag")
	if len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		t.Errorf("ETag %q is not a strong quoted tag", etag)
	}
	head := do(t, h, http.MethodHead, pathSummary, nil)
	if head.Code != 200 || head.Body.Len() != 0 || head.Header().Get("ETag") != etag ||
		head.Header().Get("Content-Length") != hd.Get("Content-Length") {
		t.Errorf("HEAD = %d, %d bytes, headers %v", head.Code, head.Body.Len(), head.Header())
	}
}

func TestConditionalAndGzip(t *testing.T) {
	t.Parallel()
	in := scenarios()[1].in
	h := newTestServer(t, ServerOptions{}, &in).Handler()
	plain := do(t, h, http.MethodGet, pathSummary, nil)
	etag := plain.Header().Get("ETag")
	gz := do(t, h, http.MethodGet, pathSummary, map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if gz.Header().Get("Content-Encoding") != "gzip" || gz.Header().Get("ETag") == etag {
		t.Fatalf("gzip response headers = %v", gz.Header())
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, plain.Body.Bytes()) {
		t.Errorf("gunzipped body differs from the plain one (err %v)", err)
	}
	gzTag := gz.Header().Get("ETag")
	tests := []struct {
		name string
		hdr  map[string]string
		code int
	}{
		{"matching tag", map[string]string{"If-None-Match": etag}, 304},
		{"weak matching tag", map[string]string{"If-None-Match": "W/" + etag}, 304},
		{"one of a list", map[string]string{"If-None-Match": `"x", ` + etag}, 304},
		{"gzip tag", map[string]string{"If-None-Match": gzTag, "Accept-Encoding": "gzip"}, 304},
		{"star", map[string]string{"If-None-Match": "*"}, 304},
		{"other tag", map[string]string{"If-None-Match": `"other"`}, 200},
		{"gzip refused", map[string]string{"Accept-Encoding": "gzip;q=0"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := do(t, h, http.MethodGet, pathSummary, tt.hdr)
			if rec.Code != tt.code {
				t.Fatalf("code = %d, want %d", rec.Code, tt.code)
			}
			if tt.code == 304 && (rec.Body.Len() != 0 || rec.Header().Get("ETag") == "" ||
				rec.Header().Get("Cache-Control") == "") {
				t.Errorf("304 body %q headers %v", rec.Body.String(), rec.Header())
			}
			if tt.name == "gzip refused" && rec.Header().Get("Content-Encoding") != "" {
				t.Error("gzip sent although q=0")
			}
		})
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	in := scenarios()[0].in
	restricted := newTestServer(t, ServerOptions{CORSOrigins: []string{"https://a.example"}}, &in).Handler()
	open := newTestServer(t, ServerOptions{}, &in).Handler()
	tests := []struct {
		name   string
		h      http.Handler
		method string
		origin string
		code   int
		acao   string
	}{
		{"any origin", open, http.MethodGet, "https://x.example", 200, "*"},
		{"allowed origin echoed", restricted, http.MethodGet, "https://a.example", 200, "https://a.example"},
		{"other origin", restricted, http.MethodGet, "https://b.example", 200, ""},
		{"preflight", open, http.MethodOptions, "https://x.example", 204, "*"},
		{"preflight restricted", restricted, http.MethodOptions, "https://a.example", 204, "https://a.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := do(t, tt.h, tt.method, pathStatus, map[string]string{"Origin": tt.origin,
				"Access-Control-Request-Method": "GET"})
			if rec.Code != tt.code || rec.Header().Get("Access-Control-Allow-Origin") != tt.acao {
				t.Fatalf("%s = %d ACAO %q, want %d %q", tt.method, rec.Code,
					rec.Header().Get("Access-Control-Allow-Origin"), tt.code, tt.acao)
			}
			if tt.method == http.MethodOptions &&
				rec.Header().Get("Access-Control-Allow-Methods") != "GET, HEAD, OPTIONS" {
				t.Errorf("Allow-Methods = %q", rec.Header().Get("Access-Control-Allow-Methods"))
			}
			if tt.acao == "https://a.example" && !strings.Contains(strings.Join(rec.Header().Values("Vary"), ","), "Origin") {
				t.Error("echoed origin without Vary: Origin")
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	in := scenarios()[0].in
	s := newTestServer(t, ServerOptions{}, &in)
	s.Handle("/api/v1/heartbeats/{check}", []string{http.MethodPost},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	// Two Handle calls on one pattern merge their methods.
	s.Handle("/api/v1/incidents", []string{http.MethodGet},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	s.Handle("/api/v1/incidents", []string{http.MethodPost},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) }))
	h := s.Handler()
	tests := []struct {
		method, path, allow string
		code                int
	}{
		{http.MethodGet, "/api/v1/incidents", "", 200},
		{http.MethodPost, "/api/v1/incidents", "", 201},
		{http.MethodDelete, "/api/v1/incidents", "GET, POST, OPTIONS", 405},
		{http.MethodPost, pathSummary, "GET, HEAD, OPTIONS", 405},
		{http.MethodDelete, "/", "GET, HEAD, OPTIONS", 405},
		{http.MethodPut, pathChecks + "/web-app-home", "GET, HEAD, OPTIONS", 405},
		{http.MethodGet, "/api/v1/heartbeats/x", "POST, OPTIONS", 405},
		{http.MethodPost, "/api/v1/heartbeats/x", "", 202},
		{http.MethodPost, "/nope", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			rec := do(t, h, tt.method, tt.path, nil)
			if rec.Code != tt.code || rec.Header().Get("Allow") != tt.allow {
				t.Fatalf("= %d Allow %q, want %d %q", rec.Code, rec.Header().Get("Allow"), tt.code, tt.allow)
			}
			if tt.code == 405 && errorOf(t, rec) != "method not allowed" {
				t.Error("405 body")
			}
		})
	}
}

func TestHandleDuplicateMethodPanics(t *testing.T) {
	t.Parallel()
	s := NewServer(ServerOptions{})
	defer func() {
		if recover() == nil {
			t.Error("mounting GET twice on one pattern did not panic")
		}
	}()
	s.Handle(pathSummary, []string{http.MethodGet}, http.NotFoundHandler())
}

func TestStartingAndReady(t *testing.T) {
	t.Parallel()
	readyErr := errors.New("store unreachable")
	ready := readyErr
	s := NewServer(ServerOptions{Ready: func() error { return ready }})
	h := s.Handler()
	for _, p := range []string{"/", pathSummary, pathChecks, pathChecks + "/web-app-home"} {
		rec := do(t, h, http.MethodGet, p, nil)
		if rec.Code != 503 || errorOf(t, rec) != "starting" {
			t.Errorf("GET %s before first snapshot = %d %s", p, rec.Code, rec.Body.String())
		}
	}
	if rec := do(t, h, http.MethodGet, "/healthz", nil); rec.Code != 200 {
		t.Errorf("healthz = %d", rec.Code)
	}
	if rec := do(t, h, http.MethodGet, "/readyz", nil); rec.Code != 503 {
		t.Errorf("readyz without snapshot = %d", rec.Code)
	}
	s.Set(mustBuild(t, scenarios()[0].in))
	rec := do(t, h, http.MethodGet, "/readyz", nil)
	if rec.Code != 503 || rec.Body.String() != `{"error":"store unreachable","status":"not ready"}` {
		t.Errorf("readyz with Ready error = %d %s", rec.Code, rec.Body.String())
	}
	ready = nil
	if rec := do(t, h, http.MethodGet, "/readyz", nil); rec.Code != 200 {
		t.Errorf("readyz ready = %d %s", rec.Code, rec.Body.String())
	}
}

func TestStale(t *testing.T) {
	t.Parallel()
	in := scenarios()[0].in
	in.Stale = true
	h := newTestServer(t, ServerOptions{}, &in).Handler()
	for _, p := range []string{pathSummary, pathChecks, pathChecks + "/web-app-home", "/"} {
		rec := do(t, h, http.MethodGet, p, nil)
		if rec.Header().Get("X-Tocsin-Stale") != "true" {
			t.Errorf("%s: no stale header", p)
		}
		if strings.HasPrefix(p, pathChecks) {
			var doc struct{ Stale bool }
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || !doc.Stale {
				t.Errorf("%s: stale field not true: %s", p, rec.Body.String())
			}
		}
	}
}

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	in := scenarios()[1].in
	s := newTestServer(t, ServerOptions{Gatherer: reg}, &in)
	m.Update(s.Snapshot())
	rec := do(t, s.Handler(), http.MethodGet, "/metrics", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(),
		`tocsin_component_status{component="api",status="major_outage"} 1`) {
		t.Errorf("/metrics = %d %s", rec.Code, rec.Body.String())
	}
	// Text format always, gzip when asked, the headers alone for HEAD.
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q", ct)
	}
	gz := do(t, s.Handler(), http.MethodGet, "/metrics", map[string]string{"Accept-Encoding": "gzip"})
	zr, err := gzip.NewReader(gz.Body)
	if err != nil || gz.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip /metrics: %v, Content-Encoding %q", err, gz.Header().Get("Content-Encoding"))
	}
	if plain, err := io.ReadAll(zr); err != nil || !bytes.Equal(plain, rec.Body.Bytes()) {
		t.Errorf("gzip /metrics decodes to other bytes (%v)", err)
	}
	head := do(t, s.Handler(), http.MethodHead, "/metrics", nil)
	if head.Code != 200 || head.Body.Len() != 0 || !strings.HasPrefix(head.Header().Get("Content-Type"), "text/plain") {
		t.Errorf("HEAD /metrics = %d, %d bytes, %q", head.Code, head.Body.Len(), head.Header().Get("Content-Type"))
	}
	failing := newTestServer(t, ServerOptions{Gatherer: prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return nil, errors.New("collector broke")
	})}, &in)
	if rec := do(t, failing.Handler(), http.MethodGet, "/metrics", nil); rec.Code != 500 || strings.Contains(rec.Body.String(), "collector broke") {
		t.Errorf("failing gather = %d %q, want 500 without the error's text", rec.Code, rec.Body.String())
	}
}

// discardWriter is a minimal ResponseWriter so the benchmark measures the
// handler, not the recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

func BenchmarkSummary(b *testing.B) {
	in := scenarios()[1].in
	h := newTestServer(b, ServerOptions{}, &in).Handler()
	for _, enc := range []string{"identity", "gzip"} {
		b.Run(enc, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				// One request per goroutine: ServeMux records the match on it.
				req := httptest.NewRequest(http.MethodGet, pathSummary, nil)
				req.Header.Set("Accept-Encoding", enc)
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					h.ServeHTTP(w, req)
				}
			})
		})
	}
}
