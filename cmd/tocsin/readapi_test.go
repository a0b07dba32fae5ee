package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/redistest"
)

// readPaths are the public read endpoints a status page or widget polls.
var readPaths = []string{
	"/", "/history", "/history.atom", "/history.rss", "/badge.svg", "/badge/web-app.svg",
	"/api/v2/status.json", "/api/v2/summary.json", "/api/v2/components.json", "/api/v2/incidents.json",
	"/api/v2/incidents/unresolved.json", "/api/v2/scheduled-maintenances.json",
	"/api/v2/scheduled-maintenances/upcoming.json", "/api/v2/scheduled-maintenances/active.json",
	"/api/v1/checks", "/api/v1/checks/web-app-home", "/api/v1/components/web-app/uptime?days=7",
}

// TestReadAPIHeaders: against the real binary, every read endpoint answers
// a matching If-None-Match with 304, gzips when asked, carries CORS and
// Cache-Control; with Redis stopped, each keeps serving, marked stale.
func TestReadAPIHeaders(t *testing.T) {
	t.Parallel()
	rds := redistest.StartDurable(t)
	web := startWeb(t)
	p := startTocsin(t, nil, "run", "--config", e2eConfig(t, rds.URL(), web.URL()))
	eventually(t, 10*time.Second, "check up", func() bool { return p.checkStatus("web-app-home") == "up" })
	// The whole uptime path — engine, Redis, Refresher, snapshot — fills
	// today's bar within seconds of a start.
	eventually(t, 20*time.Second, "today's uptime", func() bool {
		var doc struct {
			History []struct {
				Status    *string            `json:"status"`
				Durations map[string]float64 `json:"durations"`
			} `json:"history"`
		}
		p.getJSON("/api/v1/components/web-app/uptime?days=1", &doc)
		return len(doc.History) == 1 && doc.History[0].Status != nil && *doc.History[0].Status == "operational" &&
			doc.History[0].Durations["operational"] > 0
	})

	get := func(path string, hdr map[string]string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, p.base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		// A bare transport: the default one would ask for gzip and
		// decompress behind the test's back.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	read := func(r io.Reader) []byte {
		t.Helper()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, path := range readPaths {
		plain := get(path, map[string]string{"Origin": "https://widgets.example"})
		body := read(plain.Body)
		h := plain.Header
		if plain.StatusCode != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "*" ||
			h.Get("Cache-Control") != "public, max-age=10" || h.Get("ETag") == "" || h.Get("Content-Encoding") != "" {
			t.Errorf("GET %s = %d, headers %v", path, plain.StatusCode, h)
			continue
		}
		if nm := get(path, map[string]string{"If-None-Match": h.Get("ETag")}); nm.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s If-None-Match = %d, want 304", path, nm.StatusCode)
		}
		if len(body) < 1024 {
			continue // too small to be worth compressing: served as is
		}
		gz := get(path, map[string]string{"Accept-Encoding": "gzip"})
		if gz.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("GET %s with Accept-Encoding gzip: Content-Encoding %q", path, gz.Header.Get("Content-Encoding"))
			continue
		}
		zr, err := gzip.NewReader(gz.Body)
		if err != nil {
			t.Fatal(err)
		}
		if unzipped := read(zr); !bytes.Equal(unzipped, body) {
			t.Errorf("GET %s: gzip body differs from the plain one", path)
		}
		if gz.Header.Get("ETag") == h.Get("ETag") {
			t.Errorf("GET %s: the gzip variant has the plain body's ETag", path)
		}
	}
	pre, err := http.NewRequest(http.MethodOptions, p.base+"/api/v2/summary.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	pre.Header.Set("Origin", "https://widgets.example")
	pre.Header.Set("Access-Control-Request-Method", "GET")
	if resp, err := http.DefaultClient.Do(pre); err != nil || resp.StatusCode != http.StatusNoContent ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("CORS preflight: %v %v", resp, err)
	}

	rds.Stop()
	eventually(t, 10*time.Second, "stale while Redis is stopped", func() bool {
		return get("/api/v2/status.json", nil).Header.Get("X-Tocsin-Stale") == "true"
	})
	for _, path := range readPaths {
		resp := get(path, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Tocsin-Stale") != "true" {
			t.Errorf("GET %s with Redis stopped = %d, X-Tocsin-Stale %q", path, resp.StatusCode, resp.Header.Get("X-Tocsin-Stale"))
		}
	}
	for _, path := range []string{"/api/v1/checks", "/api/v1/checks/web-app-home", "/api/v1/components/web-app/uptime"} {
		var doc struct {
			Stale *bool `json:"stale"`
		}
		if err := json.Unmarshal(read(get(path, nil).Body), &doc); err != nil || doc.Stale == nil || !*doc.Stale {
			t.Errorf("GET %s with Redis stopped: stale field %v (%v), want true", path, doc.Stale, err)
		}
	}
}
