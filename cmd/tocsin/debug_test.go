package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/internal/testport"
)

// TestDebugListen: server.debug_listen serves the profiler on a listener
// of its own; the public listener never does.
func TestDebugListen(t *testing.T) {
	t.Parallel()
	ports, err := testport.Free(1)
	if err != nil {
		t.Fatal(err)
	}
	debug := testport.HostPort(ports[0])
	rds := redistest.Start(t)
	web := startWeb(t)
	p := startTocsin(t, []string{"TOCSIN_SERVER__DEBUG_LISTEN=" + debug}, "run", "--config", e2eConfig(t, rds.URL(), web.URL()))
	resp, err := http.Get("http://" + debug + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatalf("profiler: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap profile") {
		t.Errorf("heap profile: %d %.200s", resp.StatusCode, body)
	}
	if code, _ := p.get("/debug/pprof/heap"); code != http.StatusNotFound {
		t.Errorf("the public listener serves the profiler: %d", code)
	}
}
