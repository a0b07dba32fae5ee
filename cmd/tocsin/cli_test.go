package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/mtatest"
)

// TestValidateFixtures: every invalid fixture makes `tocsin validate` exit 1
// naming the key path; the valid one exits 0. Exact messages are tested in
// the config package.
func TestValidateFixtures(t *testing.T) {
	t.Parallel()
	fixtures, err := filepath.Glob("../../config/testdata/invalid-*.yml")
	if err != nil || len(fixtures) < 7 {
		t.Fatalf("want at least 7 invalid fixtures, got %d (%v)", len(fixtures), err)
	}
	for _, f := range fixtures {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(tocsinBinary(t), "validate", "--config", f).CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit %v, want 1\n%s", err, out)
			}
			if !strings.Contains(string(out), ": ") {
				t.Errorf("output does not name a key path:\n%s", out)
			}
		})
	}
	cmd := exec.Command(tocsinBinary(t), "validate", "--config", "../../config/testdata/valid-full.yml")
	cmd.Env = []string{"REDIS_PASSWORD=pw-from-env", "API_KEY=key-from-env", "API_TOKEN_V2=token-from-env"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("valid-full.yml: %v\n%s", err, out)
	}
}

func TestVersionAndUsage(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(tocsinBinary(t), "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "tocsin ") || !strings.Contains(string(out), "go1.") {
		t.Errorf("version: %v %q", err, out)
	}
	err = exec.Command(tocsinBinary(t), "frobnicate").Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Errorf("unknown command: %v, want exit 2", err)
	}
}

// TestCLIConventions: --help on every command with its flags, --version
// and shell completion exit 0 with what they promise, as they do for
// kubectl and helm; a mistyped command or flag is a usage error (exit 2)
// that suggests the command meant.
func TestCLIConventions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		code int
		want []string // in stdout for exit 0, stderr otherwise
	}{
		{[]string{"--help"}, 0, []string{"Usage:", "Available Commands:", "validate", "completion", "--config", "--version"}},
		{[]string{"-h"}, 0, []string{"Usage:", "Available Commands:"}},
		{[]string{"help", "check"}, 0, []string{"tocsin check --config FILE NAME", "--output"}},
		{[]string{"run", "--help"}, 0, []string{"tocsin run --config FILE", "--config", "--listen", "--redis-url", "--log-level", "--log-format"}},
		{[]string{"validate", "--help"}, 0, []string{"tocsin validate --config FILE", "--syntax-only", "--config"}},
		{[]string{"check", "-h"}, 0, []string{"--output", "exit 0 up or degraded"}},
		{[]string{"demo", "--help"}, 0, []string{"--listen"}},
		{[]string{"notify", "test", "--help"}, 0, []string{"tocsin notify test --config FILE RECEIVER"}},
		{[]string{"--version"}, 0, []string{"tocsin dev (commit "}},
		{[]string{"completion", "bash"}, 0, []string{"# bash completion V2 for tocsin", "__start_tocsin"}},
		{[]string{"completion", "zsh"}, 0, []string{"#compdef tocsin"}},
		{[]string{"completion", "fish"}, 0, []string{"complete -c tocsin"}},
		{[]string{"valdate"}, 2, []string{`unknown command "valdate" for "tocsin"; did you mean validate?`}},
		{[]string{"completion", "bsh"}, 2, []string{`unknown command "bsh" for "tocsin completion"; did you mean bash`}},
		{[]string{"completion"}, 2, []string{"tocsin completion needs a shell"}},
		{[]string{"completion", "bash", "extra"}, 2, []string{"tocsin completion bash:"}},
		{[]string{"notify", "tset"}, 2, []string{"did you mean test?"}},
		{[]string{"help", "valdate"}, 2, []string{`unknown command "valdate" for "tocsin"; did you mean validate?`}},
		{[]string{"help", "notify", "tset"}, 2, []string{`unknown command "tset" for "tocsin notify"; did you mean test?`}},
		{[]string{"help"}, 0, []string{"Usage:", "Available Commands:"}},
		{[]string{"validate", "--config"}, 2, []string{"flag needs an argument: --config"}},
		{[]string{"validate", "--bogus"}, 2, []string{"unknown flag: --bogus"}},
		{[]string{"check", "--config", "x.yml"}, 2, []string{"tocsin check: accepts 1 arg(s), received 0"}},
		{[]string{"validate"}, 2, []string{"validate needs --config FILE"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(tocsinBinary(t), tc.args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			got := stdout.String()
			if tc.code != 0 {
				got = stderr.String()
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
			for _, want := range tc.want {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q:\n%s", want, got)
				}
			}
		})
	}
}

// TestDemo: `tocsin demo` with no Redis and no network shows an incident
// opened by the scripted outage within 2 minutes, and later resolved.
func TestDemo(t *testing.T) {
	t.Parallel()
	p := startTocsin(t, nil, "demo", "--listen", "127.0.0.1:0")
	// The page shows what history looks like: the days before today are
	// made up, every one of them with data.
	var hist struct {
		History []struct {
			Status *string `json:"status"`
		} `json:"history"`
	}
	p.getJSON("/api/v1/components/web-app/uptime", &hist)
	if len(hist.History) != 90 {
		t.Fatalf("%d days of history, want 90", len(hist.History))
	}
	for i, d := range hist.History[:89] {
		if d.Status == nil {
			t.Errorf("demo day %d has no history", i)
			break
		}
	}
	var id string
	eventually(t, 2*time.Minute, "demo incident opened", func() bool {
		var s struct {
			Incidents []spIncident `json:"incidents"`
		}
		p.getJSON("/api/v2/summary.json", &s)
		if len(s.Incidents) > 0 {
			id = s.Incidents[0].ID
		}
		return id != ""
	})
	eventually(t, 2*time.Minute, "demo incident resolved", func() bool {
		for _, inc := range p.incidents("/api/v2/incidents.json") {
			if inc.ID == id && inc.Status == "resolved" {
				return true
			}
		}
		return false
	})
	if !strings.Contains(p.out.String(), "NOT durable") {
		t.Error("the demo did not warn that the embedded store is not durable")
	}
	if took, err := p.stop(); err != nil || took > 10*time.Second {
		t.Errorf("SIGTERM: %v after %s", err, took)
	}
}

// TestCheckCommand: `tocsin check` runs one probe and prints the target it
// probed (without credentials), its result and phase timings, as text or
// as JSON; exit 0 when up, 1 when down, 2 for an unknown check or output.
func TestCheckCommand(t *testing.T) {
	t.Parallel()
	web := startWeb(t)
	withCreds := strings.Replace(web.URL(), "http://", "http://user:pw-in-url@", 1) + "/health?token=tok-in-query"
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", `
components: [{id: web, name: Web}]
checks: [{name: home, component: web, type: http, timeout: 2s, http: {url: "`+withCreds+`"}}]
`)
	out, err := exec.Command(tocsinBinary(t), "check", "--config", cfg, "home").CombinedOutput()
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "pw-in-url") || strings.Contains(string(out), "tok-in-query") {
		t.Errorf("check output shows a credential:\n%s", out)
	}
	for _, want := range []string{"target:   " + web.URL() + "/health\n", "status:   up", "code:     200", "connect", "first_byte", "duration:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	web.SetStatus(503)
	out, err = exec.Command(tocsinBinary(t), "check", "--config", cfg, "home").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "reason:   status") {
		t.Errorf("down check: %v\n%s", err, out)
	}
	out, err = exec.Command(tocsinBinary(t), "check", "--config", cfg, "--output", "json", "home").Output()
	var rep struct {
		Check, Type, Component, Target, Status, Reason string
		StatusCode                                     int                `json:"status_code"`
		DurationMS                                     float64            `json:"duration_ms"`
		PhasesMS                                       map[string]float64 `json:"phases_ms"`
	}
	if jerr := json.Unmarshal(out, &rep); !errors.As(err, &exit) || exit.ExitCode() != 1 || jerr != nil ||
		rep.Check != "home" || rep.Type != "http" || rep.Component != "web" || rep.Target != web.URL()+"/health" ||
		rep.Status != "down" || rep.Reason != "status" || rep.StatusCode != 503 || rep.DurationMS <= 0 || rep.PhasesMS["connect"] <= 0 {
		t.Errorf("check --output json: %v, %v, %+v\n%s", err, jerr, rep, out)
	}
	for _, args := range [][]string{{"nope"}, {"--output", "yaml", "home"}} {
		err = exec.Command(tocsinBinary(t), append([]string{"check", "--config", cfg}, args...)...).Run()
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("check %q: %v, want exit 2", args, err)
		}
	}
}

// TestCheckCommandSMTPAndTCP: `tocsin check` prints SMTP and TCP probes with
// their phase timings, against the real MTA.
func TestCheckCommandSMTPAndTCP(t *testing.T) {
	t.Parallel()
	mta := mtatest.Start(t)
	dir := t.TempDir()
	pass := writeFile(t, dir, "pass", mtatest.Password)
	cfg := writeFile(t, dir, "tocsin.yml", fmt.Sprintf(`
components: [{id: mail, name: Mail}]
checks:
  - name: smtp
    component: mail
    type: smtp
    timeout: 5s
    smtp:
      address: %q
      tls: starttls
      tls_config: {ca_file: %q, server_name: %q, cert_expiry_warning: 1h}
      auth: {username: %q, password_file: %q}
      send: {from: "probe@tocsin.test", to: %q}
  - name: smtp-port
    component: mail
    type: tcp
    timeout: 5s
    tcp: {address: %q, expect: "^220 "}
`, mta.Addr(), mta.CAFile(), mtatest.ServerName, mtatest.Username, pass, mtatest.Accepted, mta.Addr()))
	for _, tc := range []struct {
		check  string
		phases []string
	}{
		{"smtp", []string{"connect", "banner", "ehlo", "tls", "auth", "data"}},
		{"smtp-port", []string{"connect", "exchange"}},
	} {
		out, err := exec.Command(tocsinBinary(t), "check", "--config", cfg, tc.check).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "status:   up") {
			t.Fatalf("check %s: %v\n%s", tc.check, err, out)
		}
		for _, ph := range tc.phases {
			if !strings.Contains(string(out), "  "+ph+" ") {
				t.Errorf("check %s output lacks phase %s:\n%s", tc.check, ph, out)
			}
		}
	}
}

func TestBrowsable(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		":8080": "localhost:8080", "[::]:8080": "localhost:8080", "0.0.0.0:80": "localhost:80",
		"127.0.0.1:9": "127.0.0.1:9", "status.test:8080": "status.test:8080",
	} {
		if got := browsable(in); got != want {
			t.Errorf("browsable(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestValidateNamesTheCheckOfProbeErrors: problems found while building a
// prober keep their checks[N] key path, joined ones too.
func TestValidateNamesTheCheckOfProbeErrors(t *testing.T) {
	t.Parallel()
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", `
components: [{id: jobs, name: Jobs}]
checks:
  - {name: ok, component: jobs, type: http, http: {url: "http://127.0.0.1:1/"}}
  - {name: q, component: jobs, type: queue, queue: {source: http_json, url: "http://127.0.0.1:1/q", json_path: "a..b"}}
`)
	out, err := exec.Command(tocsinBinary(t), "validate", "--config", cfg).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.HasPrefix(string(out), cfg+":5:5: checks[1]: queue.json_path") {
		t.Errorf("validate: %v\n%s", err, out)
	}
}

// TestValidateListsEveryStage: one `tocsin validate` run lists what could
// not be read (unknown keys, with the key meant), what breaks the config's
// rules (an unknown component) and what stops a prober from being built,
// each with its key path and where the file writes it, in that order;
// exit 1.
func TestValidateListsEveryStage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, config string
		want         []string
	}{
		{"fixture", "../../config/testdata/invalid-multiple-stages.yml", []string{
			`../../config/testdata/invalid-multiple-stages.yml:8:5: checks[0].component: unknown component "nope"`,
			`../../config/testdata/invalid-multiple-stages.yml:10:5: checks[0].intervall: unknown key (did you mean "interval"?)`,
			`../../config/testdata/invalid-multiple-stages.yml:16:5: checks[1].timeout: invalid duration "soon"`,
			`../../config/testdata/invalid-multiple-stages.yml:19:5: checks[1].depends: unknown key`,
		}},
		{"prober", writeFile(t, t.TempDir(), "tocsin.yml", `
servr: {listen: ":8080"}
components: [{id: jobs, name: Jobs}]
checks:
  - {name: home, component: web, type: http, http: {url: "http://127.0.0.1:1/"}}
  - {name: q, component: jobs, type: queue, queue: {source: http_json, url: "http://127.0.0.1:1/q", json_path: "a..b"}}
`), []string{
			`:5:18: checks[0].component: unknown component "web"`,
			`:2:1: servr: unknown key (did you mean "server"?)`,
			`:6:5: checks[1]: queue.json_path`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(tocsinBinary(t), "validate", "--config", tc.config).CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit %v, want 1\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tc.want), out)
			}
			for i, want := range tc.want {
				// FILE:LINE:COL: where the file writes the key path.
				if got := strings.TrimPrefix(lines[i], tc.config); !strings.HasPrefix(got, strings.TrimPrefix(want, tc.config)) {
					t.Errorf("line %d = %q, want it to start with %q", i+1, lines[i], want)
				}
			}
		})
	}
}

// TestValidatePositionsNotForOverrides: a problem with a value a flag or
// an environment variable set is not put at the file's line for that key.
func TestValidatePositionsNotForOverrides(t *testing.T) {
	t.Parallel()
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", `server: {listen: ":8080"}
log: {level: info}
components: [{id: web, name: Web}]
checks: [{name: home, component: web, type: http, http: {url: "http://127.0.0.1:1/"}}]
`)
	cmd := exec.Command(tocsinBinary(t), "validate", "--config", cfg, "--listen", "127.0.0.1:99999")
	cmd.Env = []string{"TOCSIN_LOG__LEVEL=loud"}
	out, _ := cmd.CombinedOutput()
	for _, want := range []string{"\nserver.listen: invalid port", "log.level: unknown level"} {
		if !strings.Contains("\n"+string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), cfg+":") {
		t.Errorf("a flag's or variable's problem is put at the file's line:\n%s", out)
	}
}
