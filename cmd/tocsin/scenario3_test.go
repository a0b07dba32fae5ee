package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/mtatest"
	"github.com/tocsin/tocsin/internal/redistest"
)

// TestScenario3MailStops replays seed 002 (Help Scout, Apr 2016): a network
// partition stops mail processing while the web app stays up. The real MTA
// is stopped: one incident on Email Processing only, with the impact its
// SMTP check declares; the MTA comes back: monitoring, then resolved. All
// asserted through /api/v2.
func TestScenario3MailStops(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	mta := mtatest.Start(t)
	web := startWeb(t)
	cfg := scenario3Config(t, "s3:", storeURL(t, rds), web.URL(), mta.Addr(), mta, "")
	p := startTocsin(t, nil, "run", "--config", cfg)
	eventually(t, 15*time.Second, "both checks up", func() bool {
		return p.checkStatus("web-app-home") == "up" && p.checkStatus("smtp-inbound") == "up"
	})
	if mta.Received(t) == 0 {
		_, b := p.get("/api/v1/checks/smtp-inbound")
		t.Errorf("the SMTP probe's full transaction did not reach the MTA\n%s\n%s", b, mta.Log(t))
	}

	mta.Stop()
	var inc spIncident
	eventually(t, 10*time.Second, "incident on email processing", func() bool {
		got := p.incidents("/api/v2/incidents/unresolved.json")
		if len(got) == 1 {
			inc = got[0]
		}
		return len(got) == 1
	})
	checkScenario3Incident(t, p, inc)
	// The outage goes on: still one incident, web app still fine.
	time.Sleep(3 * time.Second)
	if all := p.incidents("/api/v2/incidents.json"); len(all) != 1 || all[0].Status != "investigating" {
		t.Errorf("during the outage: %+v", all)
	}

	mta.Restart(t)
	eventually(t, 10*time.Second, "monitoring", func() bool {
		got := p.incidents("/api/v2/incidents/unresolved.json")
		return len(got) == 1 && got[0].ID == inc.ID && got[0].Status == "monitoring"
	})
	eventually(t, 10*time.Second, "resolved", func() bool {
		all := p.incidents("/api/v2/incidents.json")
		return len(all) == 1 && all[0].ID == inc.ID && all[0].Status == "resolved"
	})
	checkTimeline(t, p.incidents("/api/v2/incidents.json")[0], 10)
	if s := p.componentStatus("email-processing"); s != "operational" {
		t.Errorf("email processing %s after recovery", s)
	}
}

// scenario3Config writes seed 002's config: the web app, and mail
// processing behind an SMTP check of the real MTA at mtaAddr (the MTA
// itself or a proxy in front of it), with more at the top level.
func scenario3Config(t *testing.T, prefix, store, webURL, mtaAddr string, mta *mtatest.MTA, more string) string {
	t.Helper()
	dir := t.TempDir()
	pass := writeFile(t, dir, "smtp-pass", mtatest.Password+"\n")
	return writeFile(t, dir, "tocsin.yml", fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
redis: {url: %q, key_prefix: %q}
defaults: {interval: 1s, timeout: 800ms, failure_threshold: 2, success_threshold: 2}
incidents: {group_window: 1m, resolve_after: 2s, reopen_window: 20s}
components:
  - {id: web-app, name: Web App}
  - {id: email-processing, name: Email Processing}
checks:
  - name: web-app-home
    component: web-app
    type: http
    http: {url: %q}
  - name: smtp-inbound
    component: email-processing
    type: smtp
    impact: partial_outage
    smtp:
      address: %q
      tls: starttls
      tls_config: {ca_file: %q, server_name: %q, cert_expiry_warning: 1h}
      helo: tocsin.test
      expect_banner: "^220 "
      auth: {username: %q, password_file: %q}
      send: {from: "probe@tocsin.test", to: %q}
%s`, store, prefix, webURL, mtaAddr, mta.CAFile(), mtatest.ServerName, mtatest.Username, pass, mtatest.Accepted, more))
}

// checkScenario3Incident: the one incident scenario 3 asks for, major on
// email processing only (partial_outage, the SMTP check's impact), with
// the web app operational.
func checkScenario3Incident(t *testing.T, p *proc, inc spIncident) {
	t.Helper()
	if inc.Impact != "major" || len(inc.Components) != 1 || inc.Components[0].ID != "email-processing" ||
		inc.Components[0].Status != "partial_outage" {
		t.Errorf("incident impact %s components %+v, want major on email-processing (partial_outage)", inc.Impact, inc.Components)
	}
	if s := p.componentStatus("web-app"); s != "operational" {
		t.Errorf("web app %s during the mail outage, want operational", s)
	}
}
