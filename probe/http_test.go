package probe

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/probetest"
)

// TestHTTPProbe covers the verdicts a well-behaved server can produce.
func TestHTTPProbe(t *testing.T) {
	t.Parallel()
	text := func(code int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(code)
			_, _ = io.WriteString(w, body)
		}
	}
	redirectTo := func(loc string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, loc, http.StatusFound) }
	}
	mux := http.NewServeMux()
	mux.Handle("/a", redirectTo("/b"))
	mux.Handle("/b", redirectTo("/c"))
	mux.Handle("/c", text(200, "landed"))

	tests := []struct {
		name     string
		handler  http.Handler
		path     string
		cfg      func(*config.HTTPCheck)
		status   Status
		reason   Reason
		message  string // substring of Result.Message
		wantCode int
	}{
		{name: "ok", handler: text(200, "ok"), status: StatusUp, wantCode: 200},
		{name: "status mismatch", handler: text(503, "down"), status: StatusDown, reason: ReasonStatus,
			message: "unexpected status 503 (want 2xx)", wantCode: 503},
		{name: "class 2xx matches 204", handler: text(204, ""), cfg: expect("2xx"), status: StatusUp, wantCode: 204},
		{name: "class 4xx matches 404", handler: text(404, ""), cfg: expect("4XX"), status: StatusUp, wantCode: 404},
		{name: "class 3xx without following", handler: redirectTo("/elsewhere"),
			cfg:    func(c *config.HTTPCheck) { c.ExpectStatus = []string{"3xx"}; c.FollowRedirects = boolPtr(false) },
			status: StatusUp, wantCode: 302},
		{name: "302 not followed against 2xx", handler: redirectTo("/elsewhere"),
			cfg:    func(c *config.HTTPCheck) { c.FollowRedirects = boolPtr(false) },
			status: StatusDown, reason: ReasonStatus, message: "unexpected status 302 (want 2xx)", wantCode: 302},
		{name: "exact code", handler: text(201, ""), cfg: expect("201"), status: StatusUp, wantCode: 201},
		{name: "exact code mismatch", handler: text(200, ""), cfg: expect("201"), status: StatusDown,
			reason: ReasonStatus, message: "(want 201)", wantCode: 200},
		{name: "mixed list", handler: text(404, ""), cfg: expect("200", "3xx"), status: StatusDown,
			reason: ReasonStatus, message: "unexpected status 404 (want 200, 3xx)", wantCode: 404},
		// body_json, Gatus' [BODY].status == UP and Spring Boot's health.
		{name: "json equals", handler: text(200, health),
			cfg:    bodyJSON(jsonEq("status", "UP"), jsonEq("components.db.details.pool", "10"), jsonEq("ready", "true")),
			status: StatusUp, wantCode: 200},
		{name: "json equals numbers as numbers", handler: text(200, health),
			cfg: bodyJSON(jsonEq("components.db.details.pool", "10.0"), jsonEq("version", "null")), status: StatusUp, wantCode: 200},
		{name: "json differs", handler: text(200, strings.Replace(health, `"UP"`, `"DOWN"`, 1)),
			cfg:    bodyJSON(jsonEq("status", "UP")),
			status: StatusDown, reason: ReasonBody, message: `body_json "status": is "DOWN", want "UP"`, wantCode: 200},
		{name: "json in range", handler: text(200, health),
			cfg: bodyJSON(jsonRange("components.db.details.pool", 5, 20), jsonRange("queue.depth", 0, 100)), status: StatusUp, wantCode: 200},
		{name: "json below min", handler: text(200, health),
			cfg:    bodyJSON(jsonRange("components.db.details.pool", 12, 20)),
			status: StatusDown, reason: ReasonBody, message: `body_json "components.db.details.pool": is 10, want at least 12`, wantCode: 200},
		{name: "json above max", handler: text(200, health),
			cfg:    bodyJSON(jsonRange("queue.depth", 0, 10)),
			status: StatusDown, reason: ReasonBody, message: `body_json "queue.depth": is 42, want at most 10`, wantCode: 200},
		{name: "json path missing", handler: text(200, health), cfg: bodyJSON(jsonEq("components.cache.status", "UP")),
			status: StatusDown, reason: ReasonBody, message: `body_json "components.cache.status": no key "cache" in the object at "components"`, wantCode: 200},
		{name: "json object for equals", handler: text(200, health), cfg: bodyJSON(jsonEq("components", "UP")),
			status: StatusDown, reason: ReasonBody, message: `body_json "components": is an object, want "UP"`, wantCode: 200},
		{name: "json string for min", handler: text(200, health), cfg: bodyJSON(jsonRange("status", 1, 2)),
			status: StatusDown, reason: ReasonBody, message: `is a string ("UP") that is not a number`, wantCode: 200},
		{name: "not JSON", handler: text(200, "<html>ok</html>"), cfg: bodyJSON(jsonEq("status", "UP")),
			status: StatusDown, reason: ReasonBody, message: "body is not JSON", wantCode: 200},
		{name: "body contains", handler: text(200, `{"status":"ok"}`),
			cfg: func(c *config.HTTPCheck) { c.BodyContains = `"ok"` }, status: StatusUp, wantCode: 200},
		{name: "body lacks", handler: text(200, `{"status":"failing"}`),
			cfg:    func(c *config.HTTPCheck) { c.BodyContains = `"ok"` },
			status: StatusDown, reason: ReasonBody, message: `body does not contain "\"ok\""`, wantCode: 200},
		{name: "body regex", handler: text(200, "version: 1.42.0"),
			cfg: func(c *config.HTTPCheck) { c.BodyRegex = `version: \d+\.\d+` }, status: StatusUp, wantCode: 200},
		{name: "body regex miss", handler: text(200, "version: unknown"),
			cfg:    func(c *config.HTTPCheck) { c.BodyRegex = `version: \d+` },
			status: StatusDown, reason: ReasonBody, message: `body does not match /version: \d+/`, wantCode: 200},
		{name: "match beyond the cap", handler: text(200, "0123456789ok"),
			cfg:    func(c *config.HTTPCheck) { c.BodyContains = "ok"; c.MaxBodyBytes = 10 },
			status: StatusDown, reason: ReasonBody, message: "body truncated at 10 bytes", wantCode: 200},
		{name: "match at the cap", handler: text(200, "01234567ok"),
			cfg:    func(c *config.HTTPCheck) { c.BodyContains = "ok"; c.MaxBodyBytes = 10 },
			status: StatusUp, wantCode: 200},
		{name: "truncated but fine", handler: text(200, strings.Repeat("x", 100)),
			cfg: func(c *config.HTTPCheck) { c.MaxBodyBytes = 10 }, status: StatusUp, wantCode: 200},
		{name: "redirects followed", handler: mux, path: "/a",
			cfg:    func(c *config.HTTPCheck) { c.BodyContains = "landed" },
			status: StatusUp, wantCode: 200},
		{name: "redirects within limit", handler: mux, path: "/a",
			cfg: func(c *config.HTTPCheck) { c.MaxRedirects = 2 }, status: StatusUp, wantCode: 200},
		{name: "redirects over limit", handler: mux, path: "/a",
			cfg:    func(c *config.HTTPCheck) { c.MaxRedirects = 1 },
			status: StatusDown, reason: ReasonRedirect, message: "too many redirects (limit 1)", wantCode: 302},
		{name: "slow", handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			time.Sleep(120 * time.Millisecond)
		}),
			cfg:    func(c *config.HTTPCheck) { c.DegradedLatency = 50 * time.Millisecond },
			status: StatusDegraded, reason: ReasonLatency, message: "(degraded above 50ms)", wantCode: 200},
		{name: "fast enough", handler: text(200, ""),
			cfg: func(c *config.HTTPCheck) { c.DegradedLatency = 5 * time.Second }, status: StatusUp, wantCode: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := probetest.NewServer(t, tt.handler, nil)
			c := config.HTTPCheck{URL: config.Secret(srv.URL + tt.path)}
			if tt.cfg != nil {
				tt.cfg(&c)
			}
			res := probetest.Within(t, mustHTTP(t, c, Options{}).Probe, 5*time.Second)
			probetest.CheckResult(t, res, tt.status, tt.reason, tt.message)
			if res.StatusCode != tt.wantCode {
				t.Errorf("StatusCode = %d, want %d", res.StatusCode, tt.wantCode)
			}
		})
	}
}

// expect returns a config edit that sets expect_status.
func expect(list ...string) func(*config.HTTPCheck) {
	return func(c *config.HTTPCheck) { c.ExpectStatus = list }
}

// TestHTTPRequest checks what the server receives.
func TestHTTPRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   config.HTTPCheck
		opts  Options
		check func(r *http.Request, body string) error
	}{
		{name: "default user agent", check: wantHeader("User-Agent", "tocsin")},
		{name: "user agent from options", opts: Options{UserAgent: "tocsin/1.2.3"},
			check: wantHeader("User-Agent", "tocsin/1.2.3")},
		{name: "user agent from headers", opts: Options{UserAgent: "tocsin/1.2.3"},
			cfg:   config.HTTPCheck{Headers: map[string]config.Secret{"user-agent": "custom/1"}},
			check: wantHeader("User-Agent", "custom/1")},
		{name: "headers", cfg: config.HTTPCheck{Headers: map[string]config.Secret{"X-Api-Key": "k3y", "Accept": "application/json"}},
			check: func(r *http.Request, _ string) error {
				return firstErr(wantHeader("X-Api-Key", "k3y")(r, ""), wantHeader("Accept", "application/json")(r, ""))
			}},
		{name: "host header", cfg: config.HTTPCheck{Headers: map[string]config.Secret{"Host": "app.example"}},
			check: func(r *http.Request, _ string) error {
				if r.Host != "app.example" {
					return fmt.Errorf("Host = %q", r.Host)
				}
				return nil
			}},
		{name: "basic auth", cfg: config.HTTPCheck{BasicAuth: &config.BasicAuth{Username: "probe", Password: "s3cret"}},
			check: func(r *http.Request, _ string) error {
				if u, p, ok := r.BasicAuth(); !ok || u != "probe" || p != "s3cret" {
					return fmt.Errorf("basic auth = %q, %q, %v", u, p, ok)
				}
				return nil
			}},
		{name: "bearer token", cfg: config.HTTPCheck{BearerToken: "t0ken"}, check: wantHeader("Authorization", "Bearer t0ken")},
		{name: "method and body", cfg: config.HTTPCheck{Method: "POST", Body: `{"ping":1}`},
			check: func(r *http.Request, body string) error {
				if r.Method != "POST" || body != `{"ping":1}` {
					return fmt.Errorf("got %s %q", r.Method, body)
				}
				return nil
			}},
		{name: "fresh connection", check: func(r *http.Request, _ string) error {
			if !r.Close {
				return fmt.Errorf("request allows keep-alive")
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := probetest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				if err := tt.check(r, string(b)); err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
				}
			}), nil)
			tt.cfg.URL = config.Secret(srv.URL)
			res := probetest.Within(t, mustHTTP(t, tt.cfg, tt.opts).Probe, 5*time.Second)
			if res.Status != StatusUp {
				t.Errorf("server saw a bad request: %s %s %q", res.Status, res.Reason, res.Message)
			}
		})
	}
}

func wantHeader(name, value string) func(*http.Request, string) error {
	return func(r *http.Request, _ string) error {
		if got := r.Header.Get(name); got != value {
			return fmt.Errorf("%s = %q, want %q", name, got, value)
		}
		return nil
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestHTTPRedirectLoop checks a loop stops at max_redirects.
func TestHTTPRedirectLoop(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := probetest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	}), nil)
	for _, max := range []int{0, 3} { // 0: the default
		hits.Store(0)
		h := mustHTTP(t, config.HTTPCheck{URL: config.Secret(srv.URL + "/loop"), MaxRedirects: max}, Options{})
		res := probetest.Within(t, h.Probe, 5*time.Second)
		probetest.CheckResult(t, res, StatusDown, ReasonRedirect, "too many redirects")
		want := int32(cmpOrInt(max, DefaultMaxRedirects) + 1)
		if got := hits.Load(); got != want {
			t.Errorf("max_redirects %d: %d requests, want %d", max, got, want)
		}
	}
}

func cmpOrInt(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// TestHTTPFreshConnectionPerProbe checks that no connection is reused.
func TestHTTPFreshConnectionPerProbe(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	srv := probetest.NewServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil, func(s *http.Server) {
		s.ConnState = func(_ net.Conn, state http.ConnState) {
			if state == http.StateNew {
				conns.Add(1)
			}
		}
	})
	h := mustHTTP(t, config.HTTPCheck{URL: config.Secret(srv.URL)}, Options{})
	for range 2 {
		if res := probetest.Within(t, h.Probe, 5*time.Second); res.Status != StatusUp {
			t.Fatalf("probe: %s %q", res.Status, res.Message)
		}
	}
	if got := conns.Load(); got != 2 {
		t.Errorf("server saw %d connections for 2 probes, want 2", got)
	}
}

// TestHTTPCanceled checks a canceled probe is not blamed on the target.
func TestHTTPCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	h := mustHTTP(t, config.HTTPCheck{URL: config.Secret("http://" + probetest.DeadPort(t))}, Options{})
	res := h.Probe(ctx)
	probetest.CheckResult(t, res, StatusDown, ReasonError, "canceled")
}

// TestHTTPIgnoresProxyEnvironment checks the transport dials the target
// itself: a monitoring probe must not go through HTTP_PROXY.
func TestHTTPIgnoresProxyEnvironment(t *testing.T) {
	t.Parallel()
	h := mustHTTP(t, config.HTTPCheck{URL: "http://127.0.0.1/"}, Options{})
	_, tr := h.newClient()
	if tr.Proxy != nil {
		t.Error("transport has a proxy func")
	}
	if !tr.DisableKeepAlives {
		t.Error("transport keeps connections alive")
	}
}

// health is a Spring Boot style health answer for the body_json cases.
const health = `{"status":"UP","ready":true,"version":null,"queue":{"depth":"42"},
  "components":{"db":{"status":"UP","details":{"pool":10}}}}`

func bodyJSON(as ...config.JSONAssertion) func(*config.HTTPCheck) {
	return func(c *config.HTTPCheck) { c.BodyJSON = as }
}

func jsonEq(path, value string) config.JSONAssertion {
	return config.JSONAssertion{Path: path, Equals: &value}
}

func jsonRange(path string, lo, hi float64) config.JSONAssertion {
	return config.JSONAssertion{Path: path, Min: &lo, Max: &hi}
}
