package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/redistest"
)

// TestHumanActionsThroughTheBinary: the write API is mounted, guarded by
// server.api_token_file, and a person's name and status survive automation.
func TestHumanActionsThroughTheBinary(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	web := startWeb(t)
	dir := t.TempDir()
	token := writeFile(t, dir, "token", "human-token-1234\n")
	cfg := writeFile(t, dir, "tocsin.yml", fmt.Sprintf(`
server: {listen: "127.0.0.1:0", api_token_file: %q}
redis: {url: %q, key_prefix: "h:"}
defaults: {interval: 300ms, timeout: 250ms, failure_threshold: 2, success_threshold: 2}
components: [{id: web-app, name: Web App}]
checks: [{name: web-app-home, component: web-app, type: http, http: {url: %q}}]
`, token, rds.URL(), web.URL()))
	p := startTocsin(t, nil, "run", "--config", cfg)
	post := func(path, tok, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, p.base+path, strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := post("/api/v1/incidents", "", `{"name":"x","body":"y"}`); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	web.SetStatus(http.StatusBadGateway)
	inc := waitIncident(t, p, func(spIncident) bool { return true })
	if code, b := post("/api/v1/incidents/"+inc.ID+"/name", "human-token-1234", `{"name":"Database failover"}`); code != http.StatusOK {
		t.Fatalf("rename: %d %s", code, b)
	}
	if code, b := post("/api/v1/incidents/"+inc.ID+"/updates", "human-token-1234",
		`{"status":"identified","body":"A failed database failover; rolling back."}`); code != http.StatusOK {
		t.Fatalf("update: %d %s", code, b)
	}
	web.Heal() // automation has more to say: the component recovers
	var got spIncident
	eventually(t, 10*time.Second, "an automatic update after the human one", func() bool {
		got = p.incidents("/api/v2/incidents.json")[0]
		return strings.Contains(latestBody(got), "operational again")
	})
	// Moved by hand: the recovery is evidence; the status stays the
	// person's until a person resolves it (docs/architecture.md).
	if got.Status != "identified" {
		t.Errorf("after automation: status %s, want identified", got.Status)
	}
	if got.Name != "Database failover" {
		t.Errorf("after automation: name %q, want the human's name", got.Name)
	}
	human := false
	for _, u := range got.IncidentUpdates {
		human = human || (u.Status == "identified" && u.Body == "A failed database failover; rolling back.")
	}
	if !human {
		t.Errorf("the human update was changed or lost: %+v", got.IncidentUpdates)
	}
}
