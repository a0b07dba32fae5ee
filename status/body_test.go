package status

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCheckEndpoint covers /api/v1/checks/{name}, encoded on first request:
// conditional requests, gzip, HEAD, CORS and 404.
func TestCheckEndpoint(t *testing.T) {
	t.Parallel()
	in := benchInputs(t, 3) // checks with 21 results: over minGzipBytes
	s := newTestServer(t, ServerOptions{CORSOrigins: []string{"https://a.example"}}, &in)
	h := s.Handler()
	path := pathChecks + "/check-00001"
	plain := do(t, h, http.MethodGet, path, map[string]string{"Origin": "https://a.example"})
	etag := plain.Header().Get("ETag")
	if plain.Code != 200 || plain.Header().Get("Content-Encoding") != "" || etag == "" ||
		plain.Header().Get("Access-Control-Allow-Origin") != "https://a.example" ||
		plain.Header().Get("Cache-Control") != "public, max-age=10" {
		t.Fatalf("GET %s = %d %v", path, plain.Code, plain.Header())
	}
	if plain.Body.Len() < minGzipBytes || !strings.Contains(plain.Body.String(), `"name":"check-00001"`) {
		t.Fatalf("body %s", plain.Body.String())
	}
	gz := do(t, h, http.MethodGet, path, map[string]string{"Accept-Encoding": "gzip"})
	gzTag := gz.Header().Get("ETag")
	if gz.Code != 200 || gz.Header().Get("Content-Encoding") != "gzip" || gzTag == etag || gzTag == "" {
		t.Fatalf("gzip GET = %d %v", gz.Code, gz.Header())
	}
	if !bytes.Equal(gunzip(t, gz.Body.Bytes()), plain.Body.Bytes()) {
		t.Error("gunzipped body differs from the plain one")
	}
	tests := []struct {
		name, method string
		hdr          map[string]string
		code         int
		etag         string
	}{
		{"same tag", http.MethodGet, map[string]string{"If-None-Match": etag}, 304, etag},
		{"gzip tag", http.MethodGet, map[string]string{"If-None-Match": gzTag, "Accept-Encoding": "gzip"}, 304, gzTag},
		{"other tag", http.MethodGet, map[string]string{"If-None-Match": `"x"`}, 200, etag},
		{"head", http.MethodHead, nil, 200, etag},
	}
	for _, tt := range tests {
		rec := do(t, h, tt.method, path, tt.hdr)
		if rec.Code != tt.code || rec.Header().Get("ETag") != tt.etag {
			t.Errorf("%s: %d ETag %q, want %d %q", tt.name, rec.Code, rec.Header().Get("ETag"), tt.code, tt.etag)
		}
		if (tt.code == 304 || tt.method == http.MethodHead) && rec.Body.Len() != 0 {
			t.Errorf("%s: body %q", tt.name, rec.Body.String())
		}
	}
	rec := do(t, h, http.MethodGet, pathChecks+"/check-99999", nil)
	if rec.Code != 404 || errorOf(t, rec) != "not found" {
		t.Errorf("unknown check = %d %s", rec.Code, rec.Body.String())
	}
	// Encoded once per snapshot, then served as is.
	snap := s.Snapshot()
	a, _, _ := snap.body(path)
	b, _, _ := snap.body(path)
	if a != b {
		t.Error("a check's body was encoded twice in one snapshot")
	}
}

func TestSmallBodiesAreNotGzipped(t *testing.T) {
	t.Parallel()
	in := scenarios()[0].in
	h := newTestServer(t, ServerOptions{}, &in).Handler()
	for _, p := range []string{pathStatus, pathChecks + "/smtp-inbound"} {
		rec := do(t, h, http.MethodGet, p, map[string]string{"Accept-Encoding": "gzip"})
		if rec.Code != 200 || rec.Body.Len() >= minGzipBytes {
			t.Fatalf("%s: %d, %d bytes; want a small body", p, rec.Code, rec.Body.Len())
		}
		if rec.Header().Get("Content-Encoding") != "" || strings.Contains(rec.Header().Get("ETag"), "-gz") {
			t.Errorf("%s: small body served as gzip: %v", p, rec.Header())
		}
	}
}

// TestChecksListGzipIsLazy: the list's ETag and gzip variant are made on
// first use and agree with the body.
func TestChecksListGzipIsLazy(t *testing.T) {
	t.Parallel()
	in := benchInputs(t, 60) // over writeBufferBytes
	s := newTestServer(t, ServerOptions{}, &in)
	list := s.Snapshot().checks.listBody()
	if len(list.parts) < 2 || list.lazy == nil || list.etag != "" || list.gz != nil {
		t.Fatal("the checks list was hashed or compressed at build")
	}
	h := s.Handler()
	plain := do(t, h, http.MethodGet, pathChecks, nil)
	gz := do(t, h, http.MethodGet, pathChecks, map[string]string{"Accept-Encoding": "gzip"})
	if gz.Header().Get("Content-Encoding") != "gzip" || !bytes.Equal(gunzip(t, gz.Body.Bytes()), plain.Body.Bytes()) {
		t.Errorf("gzip list: %v", gz.Header())
	}
	again := do(t, h, http.MethodGet, pathChecks, map[string]string{"If-None-Match": gz.Header().Get("ETag")})
	if again.Code != 304 {
		t.Errorf("conditional GET with the gzip tag = %d", again.Code)
	}
	data, etag, _ := s.Snapshot().Body(pathChecks)
	if etag != plain.Header().Get("ETag") || !bytes.Equal(data, plain.Body.Bytes()) || len(data) <= writeBufferBytes ||
		plain.Header().Get("Content-Length") != strconv.Itoa(len(data)) {
		t.Errorf("served %d bytes, ETag %s; Body has %d bytes, ETag %s", plain.Body.Len(),
			plain.Header().Get("ETag"), len(data), etag)
	}
}

// TestRebuildReusesUnchanged: a build from the previous snapshot keeps the
// bodies that did not change, with the same output as a build from
// scratch, and encodes no checks document before it is asked for.
func TestRebuildReusesUnchanged(t *testing.T) {
	t.Parallel()
	in := benchInputs(t, 40)
	enc := newEncoder()
	prev, err := build(t.Context(), in, buildOptions{enc: enc})
	if err != nil {
		t.Fatal(err)
	}
	next := in
	next.Now = in.Now.Add(time.Second)
	next.Checks = slices.Clone(in.Checks)
	for i := 0; i < len(next.Checks); i += 7 {
		c := *next.Checks[i]
		r := c.Last
		r.Start, r.Status, r.Duration = r.Start.Add(30*time.Second), probe.StatusDown, 0
		c.Recent = append(c.Recent[1:len(c.Recent):len(c.Recent)], detector.SampleOf(r))
		c.Last = r
		next.Checks[i] = &c
	}
	warm, err := build(t.Context(), next, buildOptions{enc: enc, prev: prev})
	if err != nil {
		t.Fatal(err)
	}
	cold := mustBuild(t, next)
	if got, want := mustPaths(t, cold), mustPaths(t, warm); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("paths differ: %v vs %v", got, want)
	}
	for _, p := range mustPaths(t, cold) {
		w, wtag, _ := warm.Body(p)
		c, ctag, _ := cold.Body(p)
		if _, page := groupOf(p); page && warm.pages == prev.pages {
			// Same reads within the minute: the pages are the last ones.
			c, ctag, _ = prev.Body(p)
		}
		if !bytes.Equal(w, c) || wtag != ctag {
			t.Errorf("%s: the rebuild from the last snapshot differs from a fresh build", p)
		}
	}
	for _, p := range []string{pathSummary, pathComponents, pathIncidents} {
		if warm.bodies[p] != prev.bodies[p] {
			t.Errorf("%s did not change but was encoded again", p)
		}
	}
	// The checks documents are encoded when asked for, not at build.
	fresh, err := build(t.Context(), next, buildOptions{enc: enc, prev: warm})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.checks.list.b != nil || len(fresh.checks.docs) > 0 || len(fresh.checks.pages) > 0 {
		t.Error("a build encoded checks documents nobody asked for")
	}
}

// TestLazyBodiesConcurrently: first requests racing for a lazily made body
// (run with -race) all get the same bytes.
func TestLazyBodiesConcurrently(t *testing.T) {
	t.Parallel()
	in := benchInputs(t, 3)
	h := newTestServer(t, ServerOptions{}, &in).Handler()
	paths := []string{pathChecks, pathChecks + "/check-00002"}
	var wg sync.WaitGroup
	got := make([][]byte, 16)
	for i := range got {
		wg.Go(func() {
			rec := do(t, h, http.MethodGet, paths[i%2], map[string]string{"Accept-Encoding": "gzip"})
			got[i] = rec.Body.Bytes()
		})
	}
	wg.Wait()
	for i := 2; i < len(got); i++ {
		if !bytes.Equal(got[i], got[i%2]) {
			t.Errorf("request %d for %s got other bytes", i, paths[i%2])
		}
	}
}
