package heartbeat_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/heartbeat"
	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/redisstore"
	"github.com/tocsin/tocsin/router"

	"github.com/tocsin/tocsin/internal/syncbuf"
)

const testToken = "hb-token-7f3a9c" // never to be seen in logs

// t0 is the injected time the tests count from.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// fixture is the beat API mounted on a router.Router, as cmd mounts it.
type fixture struct {
	redis *redistest.Server
	store *redisstore.Store
	clock *clock
	url   string // base URL of the test server
	logs  *syncbuf.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{redis: redistest.Start(t), clock: &clock{t: t0}, logs: &syncbuf.Buffer{}}
	f.store = redisstore.New(f.redis.Client(t), "tocsin:")
	checks := map[string]config.HeartbeatCheck{
		"job":    {Period: time.Minute, Grace: 30 * time.Second},
		"secure": {Period: time.Minute, Grace: 30 * time.Second, Token: testToken},
	}
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := heartbeat.NewHandler(f.store, func() map[string]config.HeartbeatCheck { return checks }, f.clock.Now, logger)
	rt := router.New(router.Options{})
	rt.Handle("/api/v1/heartbeats/{check}", heartbeat.Methods(), h)
	rt.Handle("/api/v1/heartbeats/{check}/{kind}", heartbeat.Methods(), h)
	ts := httptest.NewServer(rt)
	t.Cleanup(ts.Close)
	f.url = ts.URL
	return f
}

// do sends a request and returns the status, the body and the response.
func (f *fixture) do(t *testing.T, method, path string, body io.Reader, header ...string) (int, string, *http.Response) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(b)), resp
}

func TestHandler(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	bearer := "Bearer " + testToken
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		header []string
		code   int
		want   string
	}{
		{"success", "POST", "/api/v1/heartbeats/job", "", nil, 200, `{"ok":true}`},
		{"fail with output", "POST", "/api/v1/heartbeats/job/fail", "exit 1: disk full", nil, 200, `{"ok":true}`},
		{"start", "POST", "/api/v1/heartbeats/job/start", "", nil, 200, `{"ok":true}`},
		{"body at the limit", "POST", "/api/v1/heartbeats/job", strings.Repeat("x", heartbeat.MaxBodyBytes), nil, 200, `{"ok":true}`},
		{"body too large", "POST", "/api/v1/heartbeats/job", strings.Repeat("x", heartbeat.MaxBodyBytes+1), nil,
			413, `{"error":"request body larger than 10240 bytes"}`},
		{"unknown check", "POST", "/api/v1/heartbeats/nope", "", nil, 404, `{"error":"unknown heartbeat check \"nope\""}`},
		{"unknown check and kind", "POST", "/api/v1/heartbeats/nope/fail", "", nil, 404, `{"error":"unknown heartbeat check \"nope\""}`},
		{"unknown kind", "POST", "/api/v1/heartbeats/job/finish", "", nil, 404,
			`{"error":"unknown heartbeat kind \"finish\" (want fail, start, log or an exit status 0-255)"}`},
		{"exit status 0", "GET", "/api/v1/heartbeats/job/0", "", nil, 200, `{"ok":true}`},
		{"exit status 1", "GET", "/api/v1/heartbeats/job/1", "", nil, 200, `{"ok":true}`},
		{"exit status 255", "POST", "/api/v1/heartbeats/job/255", "", nil, 200, `{"ok":true}`},
		{"exit status 256", "GET", "/api/v1/heartbeats/job/256", "", nil, 404,
			`{"error":"unknown heartbeat kind \"256\" (want fail, start, log or an exit status 0-255)"}`},
		{"exit status negative", "GET", "/api/v1/heartbeats/job/-1", "", nil, 404,
			`{"error":"unknown heartbeat kind \"-1\" (want fail, start, log or an exit status 0-255)"}`},
		{"exit status long", "GET", "/api/v1/heartbeats/job/0000", "", nil, 404,
			`{"error":"unknown heartbeat kind \"0000\" (want fail, start, log or an exit status 0-255)"}`},
		{"too deep", "POST", "/api/v1/heartbeats/job/fail/now", "", nil, 404, `{"error":"not found"}`},
		{"GET", "GET", "/api/v1/heartbeats/job", "", nil, 200, `{"ok":true}`},
		{"GET fail", "GET", "/api/v1/heartbeats/job/fail", "", nil, 200, `{"ok":true}`},
		{"HEAD", "HEAD", "/api/v1/heartbeats/job/start", "", nil, 200, ``},
		{"PUT", "PUT", "/api/v1/heartbeats/job", "", nil, 405, `{"error":"method not allowed"}`},
		{"DELETE fail", "DELETE", "/api/v1/heartbeats/job/fail", "", nil, 405, `{"error":"method not allowed"}`},
		{"GET token in query", "GET", "/api/v1/heartbeats/secure/0?token=" + testToken, "", nil, 200, `{"ok":true}`},
		{"GET token missing", "GET", "/api/v1/heartbeats/secure/0", "", nil, 401,
			`{"error":"missing token (send Authorization: Bearer \u003ctoken\u003e)"}`},
		{"token missing", "POST", "/api/v1/heartbeats/secure", "", nil, 401,
			`{"error":"missing token (send Authorization: Bearer \u003ctoken\u003e)"}`},
		{"token wrong", "POST", "/api/v1/heartbeats/secure", "", []string{"Authorization", "Bearer nope"}, 401, `{"error":"invalid token"}`},
		{"token prefix", "POST", "/api/v1/heartbeats/secure", "", []string{"Authorization", bearer[:len(bearer)-1]}, 401, `{"error":"invalid token"}`},
		{"token longer", "POST", "/api/v1/heartbeats/secure", "", []string{"Authorization", bearer + "x"}, 401, `{"error":"invalid token"}`},
		{"basic auth", "POST", "/api/v1/heartbeats/secure", "", []string{"Authorization", "Basic Zm9vOmJhcg=="}, 401,
			`{"error":"missing token (send Authorization: Bearer \u003ctoken\u003e)"}`},
		{"token wrong in query", "POST", "/api/v1/heartbeats/secure/fail?token=nope", "", nil, 401, `{"error":"invalid token"}`},
		{"token in header", "POST", "/api/v1/heartbeats/secure", "", []string{"Authorization", bearer}, 200, `{"ok":true}`},
		{"scheme in lower case", "POST", "/api/v1/heartbeats/secure/start", "", []string{"Authorization", "bearer " + testToken}, 200, `{"ok":true}`},
		{"token in query", "POST", "/api/v1/heartbeats/secure/fail?token=" + testToken, "", nil, 200, `{"ok":true}`},
		{"header wins over query", "POST", "/api/v1/heartbeats/secure?token=" + testToken, "", []string{"Authorization", "Bearer nope"}, 401,
			`{"error":"invalid token"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, body, resp := f.do(t, tt.method, tt.path, strings.NewReader(tt.body), tt.header...)
			if code != tt.code || body != tt.want {
				t.Errorf("%s %s = %d %s\nwant %d %s", tt.method, tt.path, code, body, tt.code, tt.want)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			switch code {
			case 401:
				if resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			case 405:
				if got := resp.Header.Get("Allow"); got != "GET, HEAD, POST, OPTIONS" {
					t.Errorf("Allow = %q", got)
				}
			}
		})
	}
	t.Cleanup(func() {
		if strings.Contains(f.logs.String(), testToken) {
			t.Errorf("logs show the token:\n%s", f.logs)
		}
	})
}

// TestHandlerStores: accepted beats are stored with the handler's clock,
// rejected ones are not.
func TestHandlerStores(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	post := func(path string, header ...string) {
		t.Helper()
		if code, body, _ := f.do(t, "POST", path, nil, header...); code != 200 {
			t.Fatalf("POST %s = %d %s", path, code, body)
		}
	}
	f.clock.Set(at(time.Minute))
	post("/api/v1/heartbeats/job/start")
	f.clock.Set(at(2 * time.Minute))
	post("/api/v1/heartbeats/job")
	f.clock.Set(at(3 * time.Minute))
	post("/api/v1/heartbeats/job/fail")
	// Healthchecks.io's habits: a GET or HEAD is a beat like a POST, and
	// an exit status is a success (0) or a failure.
	for i, tc := range []struct{ method, path string }{
		{"HEAD", "/api/v1/heartbeats/job/start"}, {"GET", "/api/v1/heartbeats/job/0"}, {"GET", "/api/v1/heartbeats/job/2"},
	} {
		f.clock.Set(at(time.Duration(10+i) * time.Minute))
		if code, body, _ := f.do(t, tc.method, tc.path, nil); code != 200 {
			t.Fatalf("%s %s = %d %s", tc.method, tc.path, code, body)
		}
	}
	// A /log keeps a message, the start of its body, and changes nothing
	// else; the latest replaces an older one.
	f.clock.Set(at(13 * time.Minute))
	f.do(t, "POST", "/api/v1/heartbeats/job/log", strings.NewReader("first"))
	f.clock.Set(at(14 * time.Minute))
	long := "  backup: 3 files\x00, 12 MB\n" + strings.Repeat("é", heartbeat.MaxLogBytes)
	if code, body, _ := f.do(t, "POST", "/api/v1/heartbeats/job/log", strings.NewReader(long)); code != 200 {
		t.Fatalf("POST /log = %d %s", code, body)
	}
	f.clock.Set(at(20 * time.Minute))
	f.do(t, "POST", "/api/v1/heartbeats/job", strings.NewReader(strings.Repeat("x", heartbeat.MaxBodyBytes+1)))
	f.do(t, "POST", "/api/v1/heartbeats/secure", nil)
	f.do(t, "POST", "/api/v1/heartbeats/job/finish", nil)

	// The message: the first MaxLogBytes of the body (26 bytes of text,
	// then 499 two-byte characters), without the NUL, trimmed.
	msg := "backup: 3 files, 12 MB\n" + strings.Repeat("é", (heartbeat.MaxLogBytes-26)/2)
	want := probe.Beats{FirstSeen: at(time.Minute), LastStart: at(10 * time.Minute), LastSuccess: at(11 * time.Minute), LastFail: at(12 * time.Minute),
		LastLog: at(14 * time.Minute), LogMessage: msg}
	b, err := f.store.Beats(t.Context(), "job")
	if err != nil || b.LogMessage != want.LogMessage {
		t.Errorf("log message = %q (%v)\nwant %q", b.LogMessage, err, want.LogMessage)
	}
	if b != want {
		t.Errorf("job = %+v\nwant %+v", b, want)
	}
	if b, err := f.store.Beats(t.Context(), "secure"); err != nil || b != (probe.Beats{}) {
		t.Errorf("secure = %+v, %v; want nothing stored", b, err)
	}
	keys, _ := f.redis.Client(t).Keys(t.Context(), "*").Result()
	if len(keys) != 1 || keys[0] != "tocsin:{st}:hb:job" {
		t.Errorf("keys = %q; want only tocsin:{st}:hb:job (no body, no unknown check)", keys)
	}
}

// TestHandlerStoreDown: a beat that can't be stored is not accepted.
func TestHandlerStoreDown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.redis.Stop()
	code, body, resp := f.do(t, "POST", "/api/v1/heartbeats/secure?token="+testToken, strings.NewReader("output"),
		"Authorization", "Bearer "+testToken)
	if code != 503 || body != `{"error":"store unavailable"}` || resp.Header.Get("Retry-After") == "" {
		t.Errorf("POST with Redis down = %d %s (Retry-After %q)", code, body, resp.Header.Get("Retry-After"))
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "beat not stored") || !strings.Contains(logs, "check=secure") {
		t.Errorf("store error not logged:\n%s", logs)
	}
	if strings.Contains(logs, testToken) || strings.Contains(logs, "output") {
		t.Errorf("logs show the token or the body:\n%s", logs)
	}
}

// TestHandlerAlone: mounted on a plain ServeMux the handler still refuses
// methods other than GET, HEAD and POST with a JSON 405.
func TestHandlerAlone(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	checks := map[string]config.HeartbeatCheck{"job": {Period: time.Minute}}
	h := heartbeat.NewHandler(redisstore.New(srv.Client(t), "tocsin:"),
		func() map[string]config.HeartbeatCheck { return checks }, nil, nil)
	mux := http.NewServeMux()
	mux.Handle("/api/v1/heartbeats/{check}", h)
	for method, want := range map[string]int{"GET": 200, "HEAD": 200, "PUT": 405, "DELETE": 405, "POST": 200} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), method, "/api/v1/heartbeats/job", nil))
		if rec.Code != want {
			t.Errorf("%s = %d %s, want %d", method, rec.Code, rec.Body, want)
		}
		if want == 405 && rec.Header().Get("Allow") != "GET, HEAD, POST" {
			t.Errorf("%s: Allow = %q", method, rec.Header().Get("Allow"))
		}
	}
}
