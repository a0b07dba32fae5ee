package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/faultproxy"
	"github.com/tocsin/tocsin/internal/mtatest"
	"github.com/tocsin/tocsin/internal/redistest"
)

// TestScenario3PartitionOneVantage replays seed 002 (Help Scout, Apr 2016)
// with three vantages (issue 17, acceptance 5), each a tocsin process
// probing from its own loopback address. First a partition between one
// vantage and the MTA (its connections blackholed at a proxy in front of
// the MTA): that vantage sees mail fail, the others do not, and no
// incident opens. The partition heals; then the MTA stops for everyone:
// exactly the incident TestScenario3MailStops asks for, which resolves
// when the MTA is back.
func TestScenario3PartitionOneVantage(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	mta := mtatest.Start(t)
	web := startWeb(t)
	proxy := faultproxy.Start(t, mta.Addr())
	cfg := scenario3Config(t, "s3v:", storeURL(t, rds), web.URL(), proxy.Addr(), mta,
		"ownership: {lease_duration: 1500ms}\nvantages: [eu, us, ap]\n")
	sources := map[string]string{"eu": "127.0.0.2", "us": "127.0.0.3", "ap": "127.0.0.4"}
	procs := map[string]*proc{}
	for v, ip := range sources {
		procs[v] = startTocsin(t, []string{"TOCSIN_VANTAGE=" + v, "TOCSIN_SOURCE_ADDRESS=" + ip}, "run", "--config", cfg)
	}
	p := procs["us"]
	seen := func(check string) map[string]string {
		var v struct {
			Check struct {
				Vantages []struct {
					Vantage string `json:"vantage"`
					Status  string `json:"status"`
				} `json:"vantages"`
			} `json:"check"`
		}
		p.getJSON("/api/v1/checks/"+check, &v)
		out := map[string]string{}
		for _, vs := range v.Check.Vantages {
			out[vs.Vantage] = vs.Status
		}
		return out
	}
	allUp := func() bool {
		for _, c := range []string{"web-app-home", "smtp-inbound"} {
			s := seen(c)
			if s["eu"] != "up" || s["us"] != "up" || s["ap"] != "up" {
				return false
			}
		}
		return true
	}
	eventually(t, 30*time.Second, "every check up from every vantage", allUp)

	proxy.BlackholeFrom(sources["eu"], true)
	eventually(t, 30*time.Second, "eu sees mail down, the others up", func() bool {
		s := seen("smtp-inbound")
		return s["eu"] == "down" && s["us"] == "up" && s["ap"] == "up"
	})
	// eu's verdict reaches the store after its check state: the page's
	// row names it once it is there, and the verdict is combined then.
	eventually(t, 30*time.Second, "the page names eu alone", func() bool {
		_, page := p.get("/")
		return strings.Contains(string(page), "Failing from eu only")
	})
	if got := p.incidents("/api/v2/incidents.json"); len(got) != 0 {
		t.Fatalf("a partition one vantage sees opened incidents: %+v", got)
	}
	if s := p.componentStatus("email-processing"); s != "operational" {
		t.Fatalf("email processing %s during a partition of one vantage, want operational", s)
	}
	proxy.BlackholeFrom(sources["eu"], false)
	eventually(t, 30*time.Second, "the partition healed", allUp)

	mta.Stop()
	var inc spIncident
	eventually(t, 30*time.Second, "incident on email processing", func() bool {
		got := p.incidents("/api/v2/incidents/unresolved.json")
		if len(got) == 1 {
			inc = got[0]
		}
		return len(got) == 1
	})
	checkScenario3Incident(t, p, inc)
	mta.Restart(t)
	eventually(t, 30*time.Second, "resolved", func() bool {
		all := p.incidents("/api/v2/incidents.json")
		return len(all) == 1 && all[0].ID == inc.ID && all[0].Status == "resolved"
	})
	checkTimeline(t, p.incidents("/api/v2/incidents.json")[0], 10)
}
