package main

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/faultproxy"
)

// TestSourceAddress: --source-address and TOCSIN_SOURCE_ADDRESS make the
// daemon's and `tocsin check`'s probes connect from that address, as the
// target sees it; an address this host does not have stops the daemon at
// start with an error naming the key, instead of failing every probe.
func TestSourceAddress(t *testing.T) {
	t.Parallel()
	web := startWeb(t)
	proxy := faultproxy.Start(t, strings.TrimSuffix(strings.TrimPrefix(web.URL(), "http://"), "/health"))
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
defaults: {interval: 300ms, timeout: 250ms}
components: [{id: web-app, name: Web App}]
checks: [{name: web-app-home, component: web-app, type: http, http: {url: "http://%s/health"}}]
`, proxy.Addr()))
	fromOnly := func(ip string) bool {
		peers := proxy.Peers()
		return len(peers) > 0 && !slices.ContainsFunc(peers, func(p string) bool { return p != ip })
	}

	out, code := runCLI(t, "check", "--config", cfg, "--source-address", "127.0.0.2", "web-app-home")
	if code != 0 || !fromOnly("127.0.0.2") {
		t.Fatalf("tocsin check --source-address 127.0.0.2: exit %d, target saw %v\n%s", code, proxy.Peers(), out)
	}

	p := startTocsin(t, []string{"TOCSIN_SOURCE_ADDRESS=127.0.0.3"}, "run", "--config", cfg)
	eventually(t, 10*time.Second, "the check up", func() bool { return p.checkStatus("web-app-home") == "up" })
	if peers := proxy.Peers(); !slices.Contains(peers, "127.0.0.3") || slices.ContainsFunc(peers, func(ip string) bool {
		return ip != "127.0.0.2" && ip != "127.0.0.3"
	}) {
		t.Errorf("with TOCSIN_SOURCE_ADDRESS=127.0.0.3 the target saw %v", peers)
	}

	// 192.0.2.1 (TEST-NET-1) is no address of this host: binding to it
	// fails locally, nothing is sent.
	cmd := exec.Command(tocsinBinary(t), "run", "--config", cfg, "--source-address", "192.0.2.1")
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "scheduler.source_address: 192.0.2.1 is not an address of this host") {
		t.Errorf("run with a foreign source address: %v\n%s", err, b)
	}
}
