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

	// A bare transport: the default one would ask for gzip and decompress
	// behind the test's back.
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	get := func(path string, hdr map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, p.base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	// A document may change between two requests: the checks list and the
	// uptime histories are rebuilt as probe results arrive, and an ETag is
	// a hash of the body. So an assertion spanning two requests is retried
	// while the ETag shows that the document changed in between (within a
	// deadline generous for a loaded machine); with the same document it
	// must hold at once.
	const settle = 30 * time.Second
	// notModified: If-None-Match with the ETag just served answers 304 with
	// that ETag. A 200 is a failure unless it serves another ETag.
	notModified := func(path, etag string) {
		t.Helper()
		deadline := time.Now().Add(settle)
		for {
			nm, _ := get(path, map[string]string{"If-None-Match": etag})
			next := nm.Header.Get("ETag")
			switch {
			case nm.StatusCode == http.StatusNotModified && next == etag:
				return
			case nm.StatusCode == http.StatusOK && next != "" && next != etag && time.Now().Before(deadline):
				etag = next // changed in between: ask with the current one
			default:
				t.Errorf("GET %s If-None-Match %s = %d, ETag %s; want 304, ETag %[2]s", path, etag, nm.StatusCode, next)
				return
			}
		}
	}
	// gzipMatches: the gzip variant unzips to the plain body and has an
	// ETag of its own. A different body is a failure unless the plain
	// document's ETag changed meanwhile.
	gzipMatches := func(path, etag string, body []byte) {
		t.Helper()
		deadline := time.Now().Add(settle)
		for {
			gz, zipped := get(path, map[string]string{"Accept-Encoding": "gzip"})
			if gz.Header.Get("Content-Encoding") != "gzip" {
				t.Errorf("GET %s with Accept-Encoding gzip: Content-Encoding %q", path, gz.Header.Get("Content-Encoding"))
				return
			}
			if gz.Header.Get("ETag") == etag {
				t.Errorf("GET %s: the gzip variant has the plain body's ETag", path)
			}
			zr, err := gzip.NewReader(bytes.NewReader(zipped))
			if err != nil {
				t.Fatal(err)
			}
			unzipped, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(unzipped, body) {
				return
			}
			now, current := get(path, nil)
			if now.StatusCode != http.StatusOK || now.Header.Get("ETag") == etag || time.Now().After(deadline) {
				t.Errorf("GET %s: gzip body differs from the plain one", path)
				return
			}
			etag, body = now.Header.Get("ETag"), current // changed in between: compare with the current one
		}
	}
	for _, path := range readPaths {
		plain, body := get(path, map[string]string{"Origin": "https://widgets.example"})
		h := plain.Header
		if plain.StatusCode != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "*" ||
			h.Get("Cache-Control") != "public, max-age=10" || h.Get("ETag") == "" || h.Get("Content-Encoding") != "" {
			t.Errorf("GET %s = %d, headers %v", path, plain.StatusCode, h)
			continue
		}
		notModified(path, h.Get("ETag"))
		if len(body) < 1024 {
			continue // too small to be worth compressing: served as is
		}
		gzipMatches(path, h.Get("ETag"), body)
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
		resp, _ := get("/api/v2/status.json", nil)
		return resp.Header.Get("X-Tocsin-Stale") == "true"
	})
	for _, path := range readPaths {
		resp, _ := get(path, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Tocsin-Stale") != "true" {
			t.Errorf("GET %s with Redis stopped = %d, X-Tocsin-Stale %q", path, resp.StatusCode, resp.Header.Get("X-Tocsin-Stale"))
		}
	}
	for _, path := range []string{"/api/v1/checks", "/api/v1/checks/web-app-home", "/api/v1/components/web-app/uptime"} {
		var doc struct {
			Stale *bool `json:"stale"`
		}
		_, b := get(path, nil)
		if err := json.Unmarshal(b, &doc); err != nil || doc.Stale == nil || !*doc.Stale {
			t.Errorf("GET %s with Redis stopped: stale field %v (%v), want true", path, doc.Stale, err)
		}
	}
}
