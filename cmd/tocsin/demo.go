package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"text/template"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/acme"
)

// demoCycle is how often the scripted outage repeats.
const demoCycle = 3 * time.Minute

// demoStep is one scripted moment of the outage, after the start of a cycle.
type demoStep struct {
	at  time.Duration
	say string
	do  func(*acme.Acme)
}

// demoScript replays the shape of the Intercom postmortem (a slow database):
// the web app slows down, then the API fails, then everything recovers.
func demoScript() []demoStep {
	return []demoStep{
		{15 * time.Second, "the database slows down: web app responses take 900ms", func(a *acme.Acme) { a.Web.SetLatency(900 * time.Millisecond) }},
		{30 * time.Second, "the API starts failing with 503s", func(a *acme.Acme) { a.API.SetStatus(http.StatusServiceUnavailable) }},
		{55 * time.Second, "the slow query plan is fixed: everything recovers", func(a *acme.Acme) { a.Heal() }},
		{95 * time.Second, "a bad deploy breaks the background workers: jobs pile up, heartbeats stop (the web app stays green)",
			func(a *acme.Acme) { a.Queue.SetRates(demoJobRate, 0) }},
		{135 * time.Second, "the fix is deployed: workers drain the backlog",
			func(a *acme.Acme) { a.Queue.SetRates(demoJobRate, 3*demoJobRate) }},
	}
}

// demoJobRate is how many jobs per second the simulated app enqueues.
const demoJobRate = 15

const demoConfig = `# tocsin demo: generated against the simulated SaaS on loopback.
server: {listen: "{{.Listen}}", cache_max_age: 2s}
page: {name: "Acme Status (tocsin demo)", url: "{{.PageURL}}"}
log: {format: text}
defaults: {interval: 2s, timeout: 1500ms, failure_threshold: 2, success_threshold: 2}
incidents: {group_window: 2m, resolve_after: 20s, reopen_window: 30s, retention: 24h}
components:
  - {id: web-app, name: Web App, group: Help Desk}
  - {id: api, name: Public API, group: Help Desk}
  - {id: background-jobs, name: Background Jobs, description: "Email import and delivery"}
  - {id: email, name: Email Processing}
checks:
  - name: web-app-home
    component: web-app
    type: http
    http: {url: "{{.Web}}", degraded_latency: 500ms, body_contains: ok}
  - name: api-health
    component: api
    type: http
    http: {url: "{{.API}}", expect_status: ["200"]}
  - name: jobs-health
    component: background-jobs
    type: http
    impact: partial_outage
    http: {url: "{{.Jobs}}"}
  - name: smtp-inbound
    component: email
    type: smtp
    smtp: {address: "{{.Mail}}", helo: tocsin.demo, expect_banner: "^220 ", send: {from: "probe@acme.test", to: "sink@acme.test"}}
  - name: mailers-queue
    component: background-jobs
    type: queue
    queue: {source: redis_list, redis_url: "{{.QueueRedis}}", key: mailers, stall_after: 10s, window: 30s, degraded_depth: 200, down_depth: 50000}
  - name: mail-worker
    component: background-jobs
    type: heartbeat
    heartbeat: {period: 2s, grace: 2s}
`

func runDemo(ctx context.Context, listen string, env []string, stdout io.Writer, hup <-chan os.Signal) error {
	saas, err := acme.Start()
	if err != nil {
		return err
	}
	defer saas.Close()
	// The simulated app's job queue lives in its own in-process Redis.
	jobsRedis := miniredis.NewMiniRedis()
	if err := jobsRedis.StartAddr("127.0.0.1:0"); err != nil {
		return fmt.Errorf("demo: start job queue: %w", err)
	}
	defer jobsRedis.Close()
	if saas.Queue, err = acme.StartJobs("redis://"+jobsRedis.Addr(), "mailers"); err != nil {
		return err
	}
	defer saas.Queue.Close()
	saas.Queue.SetRates(demoJobRate, 10*demoJobRate)

	dir, err := os.MkdirTemp("", "tocsin-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tocsin.yml")
	if err := writeDemoConfig(path, listen, "redis://"+jobsRedis.Addr(), saas); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tocsin demo: status page on http://%s/ — a scripted outage starts 15s into every %s cycle; the uptime bars before today are made up (config: %s)\n", browsable(listen), demoCycle, path)
	go playScript(ctx, saas, stdout)
	// Drop REDIS settings from the environment: the demo always runs embedded.
	// The worker beats to tocsin once tocsin listens.
	ready := func(addr string) {
		saas.Queue.SetHeartbeat("http://"+browsable(addr)+"/api/v1/heartbeats/mail-worker", "", 500*time.Millisecond)
	}
	seed := func(ctx context.Context, client redis.UniversalClient, cfg *config.Config) error {
		return seedDemoHistory(ctx, client, cfg, time.Now())
	}
	return daemon(ctx, daemonOptions{load: config.LoadOptions{File: path, Env: withoutRedisEnv(env)}, stdout: stdout,
		hup: hup, ready: ready, seed: seed})
}

func writeDemoConfig(path, listen, queueRedis string, saas *acme.Acme) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("demo: write config: %w", err)
	}
	defer f.Close()
	t := template.Must(template.New("demo").Parse(demoConfig))
	return t.Execute(f, map[string]string{"Listen": listen, "PageURL": "http://" + browsable(listen), "QueueRedis": queueRedis,
		"Web": saas.Web.URL(), "API": saas.API.URL(), "Jobs": saas.Jobs.URL(), "Mail": saas.Mail.Addr()})
}

// browsable turns a listen address like ":8080" or "[::]:8080" into one a
// browser (or the demo's worker) can open.
func browsable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func withoutRedisEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if len(kv) < len("TOCSIN_REDIS__") || kv[:len("TOCSIN_REDIS__")] != "TOCSIN_REDIS__" {
			out = append(out, kv)
		}
	}
	return out
}

// playScript runs the scripted outage every demoCycle until ctx ends.
func playScript(ctx context.Context, saas *acme.Acme, w io.Writer) {
	for cycle := 0; ; cycle++ {
		start := time.Now()
		for _, step := range demoScript() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(start.Add(step.at))):
			}
			fmt.Fprintf(w, "tocsin demo: %s\n", step.say)
			step.do(saas)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(demoCycle))):
		}
	}
}
