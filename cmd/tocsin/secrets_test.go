package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/mtatest"
)

// The canaries: one per way a secret can enter the config.
const (
	canaryHeader   = "canary-header-5f1c"          // a header value
	canaryUserinfo = "canary-userinfo-9a2e"        // the password in a URL
	canaryFile     = "canary-file-77b0"            // a *_file secret
	canaryEnv      = "canary-env-3d4d"             // a ${VAR} secret
	canaryToken    = "canary-query-c0de"           // a token in a URL query
	canarySMTP     = "canary-smtp-pass-e1f2"       // a (wrong) SMTP AUTH password
	canaryQueue    = "canary-queue-pass-77aa"      // a queue source's HTTP password
	canaryRedis    = "canary-redis-pass-0b0b"      // the password in a queue's redis_url
	canaryBeat     = "canary-beat-token-5e5e"      // a heartbeat token
	canaryPD       = "canary-routing-key-4f4f"     // a PagerDuty routing key (${VAR})
	canarySlack    = "canarySLACKtoken0123456789"  // the token in a Slack webhook URL's path
	canaryHook     = "canary-hook-secret-9c9c"     // a webhook's HMAC secret (*_file)
	canaryDog      = "canaryWATCHDOGtoken01234567" // the token in the watchdog URL's path
)

var canaries = []string{canaryHeader, canaryUserinfo, canaryFile, canaryEnv, canaryToken, canarySMTP, mtatest.Password,
	canaryQueue, canaryRedis, canaryBeat, canaryPD, canarySlack, canaryHook, canaryDog,
	// what a server echoing the request would show: the Basic credentials
	base64.StdEncoding.EncodeToString([]byte("probe:" + canaryQueue))}

// TestSecretsNeverLeak runs the daemon with every kind of secret against
// failing targets and reads every output a person or a scraper can see.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Echo what we got, as a buggy target or receiver might: it must
		// not reach output.
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "%v %s %s", r.Header, r.URL, body)
	}))
	t.Cleanup(failing.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	mta := mtatest.Start(t)
	dir := t.TempDir()
	tokenFile := writeFile(t, dir, "token", canaryFile+"\n")
	hookSecretFile := writeFile(t, dir, "hook-secret", canaryHook+"\n")
	smtpPassFile := writeFile(t, dir, "smtp-pass", mtatest.Password+"\n")
	hostPort := strings.TrimPrefix(failing.URL, "http://")
	deadHost := strings.TrimPrefix(deadURL, "http://")
	cfg := writeFile(t, dir, "tocsin.yml", fmt.Sprintf(`
server: {listen: "127.0.0.1:0", api_token_file: %q}
defaults: {interval: 300ms, timeout: 250ms, failure_threshold: 1, success_threshold: 1}
components: [{id: web, name: Web}]
checks:
  - name: header-secret
    component: web
    type: http
    http:
      url: "http://%s/x?token=%s"
      headers: {X-Api-Key: %q, X-Env-Token: "${CANARY_ENV}"}
      bearer_token_file: %q
  - name: userinfo-secret
    component: web
    type: http
    http: {url: "http://probe:%s@%s/health?token=%s"}
  - name: smtp-wrong-password
    component: web
    type: smtp
    smtp:
      address: %q
      tls: implicit
      tls_config: {ca_file: %q, server_name: %q, cert_expiry_warning: 1h}
      auth: {username: %q, password: "${CANARY_SMTP}"}
  - name: smtp-right-password
    component: web
    type: smtp
    smtp:
      address: %q
      tls: implicit
      tls_config: {ca_file: %q, server_name: %q, cert_expiry_warning: 1h}
      auth: {username: %q, password_file: %q}
      send: {from: "probe@tocsin.test", to: %q}
  - name: queue-http-secret
    component: web
    type: queue
    queue: {source: http_json, url: "http://%s/queue", json_path: depth, username: probe, password: "${CANARY_QUEUE}"}
  - name: queue-redis-secret
    component: web
    type: queue
    queue: {source: redis_list, redis_url: "redis://:%s@%s/0", key: jobs}
  - name: worker-beat
    component: web
    type: heartbeat
    heartbeat: {period: 1s, grace: 1s, token: "${CANARY_BEAT}"}
`, tokenFile, hostPort, canaryToken, canaryHeader, tokenFile, canaryUserinfo, deadHost, canaryToken,
		mta.TLSAddr(), mta.CAFile(), mtatest.ServerName, mtatest.Username,
		mta.TLSAddr(), mta.CAFile(), mtatest.ServerName, mtatest.Username, smtpPassFile, mtatest.Accepted,
		hostPort, canaryRedis, deadHost)+fmt.Sprintf(`
notify:
  - {name: oncall, type: pagerduty, url: "http://%[1]s/v2/enqueue", routing_key: "${CANARY_PD}", retry_min: 100ms, retry_max: 200ms}
  - {name: chat, type: slack, url: "http://%[1]s/services/T0/B0/%[2]s", retry_min: 100ms, retry_max: 200ms}
  - {name: hooks, type: webhook, url: "http://%[1]s/hook", secret_file: %[3]q, retry_min: 100ms, retry_max: 200ms}
watchdog: {url: "http://%[1]s/ping/%[4]s", interval: 1s}
`, hostPort, canarySlack, hookSecretFile, canaryDog))
	env := []string{"CANARY_ENV=" + canaryEnv, "CANARY_SMTP=" + canarySMTP, "CANARY_QUEUE=" + canaryQueue, "CANARY_BEAT=" + canaryBeat,
		"CANARY_PD=" + canaryPD}

	p := startTocsin(t, env, "run", "--config", cfg, "--log-level", "debug")
	var seen strings.Builder
	waitIncident(t, p, func(spIncident) bool { return true })
	// Every receiver refused (500, echoing the request) and the watchdog
	// pinged the echoing server.
	eventually(t, 20*time.Second, "notifications attempted", func() bool {
		_, m := p.get("/metrics")
		for _, r := range []string{"oncall", "chat", "hooks"} {
			if !strings.Contains(string(m), `tocsin_notifications_total{receiver="`+r+`",result="failed"}`) ||
				strings.Contains(string(m), `tocsin_notifications_total{receiver="`+r+`",result="failed"} 0`) {
				return false
			}
		}
		return !strings.Contains(string(m), `tocsin_watchdog_pings_total{result="failed"} 0`)
	})
	eventually(t, 10*time.Second, "smtp and queue probes ran", func() bool {
		return p.checkStatus("smtp-wrong-password") == "down" && p.checkStatus("smtp-right-password") == "up" &&
			p.checkStatus("queue-http-secret") == "down" && p.checkStatus("queue-redis-secret") == "down"
	})
	// Heartbeats with a wrong and with the right token.
	for _, tok := range []string{"wrong-" + canaryBeat, canaryBeat} {
		req, _ := http.NewRequest(http.MethodPost, p.base+"/api/v1/heartbeats/worker-beat", strings.NewReader("log output"))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen.Write(b)
		if want := map[bool]int{true: 200, false: 401}[tok == canaryBeat]; resp.StatusCode != want {
			t.Errorf("beat with token %q: %d, want %d", tok[:6], resp.StatusCode, want)
		}
	}
	for _, path := range []string{"/api/v1/checks", "/api/v1/checks/header-secret", "/api/v1/checks/userinfo-secret",
		"/api/v1/checks/smtp-wrong-password", "/api/v1/checks/smtp-right-password",
		"/api/v1/checks/queue-http-secret", "/api/v1/checks/queue-redis-secret", "/api/v1/checks/worker-beat",
		"/api/v2/summary.json", "/api/v2/incidents.json", "/api/v2/components.json", "/api/v2/status.json",
		"/api/v2/incidents/unresolved.json", "/metrics", "/", "/readyz", "/nope"} {
		_, b := p.get(path)
		seen.Write(b)
	}
	if _, err := p.stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	seen.WriteString(p.out.String())

	// validate and check print errors and results: they must be clean too.
	for _, args := range [][]string{{"validate", "--config", cfg}, {"check", "--config", cfg, "userinfo-secret"},
		{"check", "--config", cfg, "header-secret"}, {"check", "--config", cfg, "smtp-wrong-password"},
		{"check", "--config", cfg, "smtp-right-password"}, {"check", "--config", cfg, "queue-http-secret"},
		{"check", "--config", cfg, "queue-redis-secret"}, {"notify", "test", "--config", cfg, "oncall"},
		{"notify", "test", "--config", cfg, "chat"}, {"notify", "test", "--config", cfg, "hooks"}} {
		cmd := exec.Command(tocsinBinary(t), args...)
		cmd.Env = env
		out, _ := cmd.CombinedOutput()
		seen.Write(out)
	}
	bad := writeFile(t, dir, "bad.yml", fmt.Sprintf(`
components: [{id: web, name: Web}]
checks: [{name: x, component: web, type: http, http: {url: "ftp://u:%s@host/?token=%s"}}]
`, canaryUserinfo, canaryToken))
	out, _ := exec.Command(tocsinBinary(t), "validate", "--config", bad).CombinedOutput()
	seen.Write(out)

	all := seen.String()
	if !strings.Contains(all, "header-secret") || !strings.Contains(all, "unexpected status 500") ||
		!strings.Contains(all, "535") {
		t.Fatalf("the outputs do not look like they cover the checks:\n%s", all)
	}
	for _, c := range canaries {
		if i := strings.Index(all, c); i >= 0 {
			t.Errorf("secret %q leaked: ...%s...", c, all[max(0, i-200):min(len(all), i+100)])
		}
	}
}
