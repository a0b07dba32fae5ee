package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestLoadNotify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "pd-key")
	if err := os.WriteFile(key, []byte("pd-routing-key-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "tocsin.yml")
	if err := os.WriteFile(file, []byte(`
components: [{id: web, name: Web}]
notify:
  - {name: oncall, type: pagerduty, routing_key_file: pd-key, min_impact: major}
  - {name: chat, type: slack, url: "${SLACK_URL}", repeat_every: 1h, components: [web]}
  - {name: hooks, type: webhook, url: "https://hooks.example/tocsin?token=q-token-77", secret: "hmac-secret-1", timeout: 3s, retry_max: 1m}
watchdog: {url: "https://hc-ping.example/0123456789abcdef0123"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(LoadOptions{File: file, Env: []string{"SLACK_URL=https://hooks.slack.com/services/T0/B0/slackTOKENabcdefghij"}})
	if err != nil {
		t.Fatal(err)
	}
	pd, chat, hooks := cfg.Notify[0], cfg.Notify[1], cfg.Notify[2]
	if pd.URL != DefaultPagerDutyURL || pd.RoutingKey != "pd-routing-key-0123" || pd.MinImpact != "major" ||
		pd.Timeout != 10*time.Second || pd.RetryMin != time.Second || pd.RetryMax != 5*time.Minute {
		t.Errorf("pagerduty %+v", pd)
	}
	if chat.MinImpact != "none" || chat.RepeatEvery != time.Hour || !slices.Equal(chat.Components, []string{"web"}) {
		t.Errorf("slack %+v", chat)
	}
	if hooks.Timeout != 3*time.Second || hooks.RetryMax != time.Minute || hooks.Secret != "hmac-secret-1" {
		t.Errorf("webhook %+v", hooks)
	}
	if cfg.Watchdog.Interval != time.Minute {
		t.Errorf("watchdog interval %s, want the 1m default", cfg.Watchdog.Interval)
	}
	// Every key, URL and URL token is a secret; PagerDuty's public
	// endpoint is not.
	secrets := cfg.Secrets()
	for _, s := range []string{"pd-routing-key-0123", "https://hooks.slack.com/services/T0/B0/slackTOKENabcdefghij",
		"slackTOKENabcdefghij", "q-token-77", "hmac-secret-1", "0123456789abcdef0123"} {
		if !slices.Contains(secrets, s) {
			t.Errorf("%q is not a secret", s)
		}
	}
	if slices.Contains(secrets, DefaultPagerDutyURL) {
		t.Error("PagerDuty's public endpoint is treated as a secret")
	}
}
