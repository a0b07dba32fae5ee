package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/schedule"
)

// TestBuildJobsReusesUnchangedProbers: a reload builds probers only for
// checks that changed; an unchanged check keeps the prober in force,
// unless it names a certificate file, whose contents the reload reads
// again.
func TestBuildJobsReusesUnchangedProbers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, caFile := mintCert(t, dir, time.Now().Add(30*24*time.Hour))
	load := func(webURL string) *config.Config {
		t.Helper()
		cfg, err := config.Load(config.LoadOptions{File: writeFile(t, t.TempDir(), "tocsin.yml", fmt.Sprintf(`
components: [{id: a, name: A}]
checks:
  - {name: same, component: a, type: tcp, tcp: {address: "127.0.0.1:1"}}
  - {name: changed, component: a, type: http, http: {url: %q}}
  - {name: with-ca, component: a, type: http, http: {url: "https://127.0.0.1:1/", tls: {ca_file: %q}}}
`, webURL, caFile))})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	first, err := buildJobs(load("http://127.0.0.1:1/a"), noBeats{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	inForce := map[string]schedule.Job{}
	for _, j := range first {
		inForce[j.Check.Name] = j
	}
	current := func(name string) (schedule.Job, bool) { j, ok := inForce[name]; return j, ok }
	again, err := buildJobs(load("http://127.0.0.1:1/b"), noBeats{}, nil, current)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range again {
		kept := j.Prober == inForce[j.Check.Name].Prober
		if want := j.Check.Name == "same"; kept != want {
			t.Errorf("check %s: prober kept %v, want %v", j.Check.Name, kept, want)
		}
	}
}
