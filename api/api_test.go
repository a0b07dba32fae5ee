package api_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tocsin/tocsin/api"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/internal/ownertest"
	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/redisstore"
	"github.com/tocsin/tocsin/router"
)

const testToken = "api-token-5d1e" // never to be seen in logs

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var prefixSeq atomic.Int64

// fixture is the write API mounted on a router.Router over a real Redis,
// as cmd mounts it.
type fixture struct {
	t     *testing.T
	store *redisstore.Store
	url   string
	token atomic.Pointer[string]
}

func newFixture(t *testing.T, srv *redistest.Server) *fixture {
	t.Helper()
	f := &fixture{t: t, store: redisstore.New(srv.Client(t), fmt.Sprintf("api%d:", prefixSeq.Add(1)))}
	tok := testToken
	f.token.Store(&tok)
	logger := slog.New(slog.DiscardHandler)
	h := api.New(f.store, func() string { return *f.token.Load() }, func() time.Time { return t0 }, logger)
	rt := router.New(router.Options{})
	h.Mount(rt)
	ts := httptest.NewServer(rt)
	t.Cleanup(ts.Close)
	f.url = ts.URL
	return f
}

// do sends method path with body and the token auth ("" = no header) and
// returns the status code and the decoded JSON response.
func (f *fixture) do(method, path, body, auth string) (int, map[string]any, http.Header) {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.url+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		f.t.Fatalf("%s %s: response not JSON: %v", method, path, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		f.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return resp.StatusCode, m, resp.Header
}

func (f *fixture) post(path, body string) (int, map[string]any) {
	f.t.Helper()
	code, m, _ := f.do(http.MethodPost, path, body, "Bearer "+testToken)
	return code, m
}

// open makes an automatic incident "a" for component web.
func (f *fixture) open(comp string, s detector.ComponentStatus, off time.Duration) incident.Transition {
	f.t.Helper()
	fence := ownertest.Claim(f.t, f.store, "r1", comp)[comp].Fence
	tr, err := f.store.Observe(f.t.Context(), incident.Observation{
		Component: comp, ComponentName: comp, Status: s, At: t0.Add(off), NewID: "a", Fence: fence,
		Body: comp + " is " + s.Label() + ".", Group: "shop", // related: one incident
		Policy: incident.Policy{GroupWindow: 15 * time.Minute, ReopenWindow: 30 * time.Minute, ResolveAfter: 5 * time.Minute},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return tr
}

func (f *fixture) incident(id string) incident.Incident {
	f.t.Helper()
	st, err := f.store.Load(f.t.Context(), 100)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, inc := range st.Incidents {
		if inc.ID == id {
			return inc
		}
	}
	f.t.Fatalf("incident %s not stored", id)
	return incident.Incident{}
}

func TestRequests(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	big := `{"status":"identified","body":"` + strings.Repeat("x", api.MaxBodyBytes) + `"}`
	long := `{"status":"identified","body":"` + strings.Repeat("é", incident.MaxBodyChars+1) + `"}`
	for _, tc := range []struct {
		name, method, path, body, auth string
		want                           int
		errPart                        string
	}{
		{"create", "POST", "/api/v1/incidents", `{"name":"Login down","body":"Looking."}`, "good", 201, ""},
		{"create with everything", "POST", "/api/v1/incidents",
			`{"name":"Login down","status":"identified","body":"Found it.","components":{"web":"major_outage"},"impact":"minor"}`,
			"good", 201, ""},
		{"update", "POST", "/api/v1/incidents/a/updates", `{"status":"identified","body":"Found it."}`, "good", 200, ""},
		{"resolve", "POST", "/api/v1/incidents/a/resolve", `{"body":"Fixed."}`, "good", 200, ""},
		{"resolve without body", "POST", "/api/v1/incidents/a/resolve", ``, "good", 200, ""},
		{"rename", "POST", "/api/v1/incidents/a/name", `{"name":"Checkout down"}`, "good", 200, ""},
		{"no token", "POST", "/api/v1/incidents/a/updates", `{"status":"identified","body":"x"}`, "", 401, "missing token"},
		{"wrong token", "POST", "/api/v1/incidents/a/updates", `{"status":"identified","body":"x"}`, "Bearer nope", 401, "invalid token"},
		{"basic auth", "POST", "/api/v1/incidents", `{"name":"n","body":"x"}`, "Basic YTpi", 401, "missing token"},
		{"bad JSON", "POST", "/api/v1/incidents/a/updates", `{"status":`, "good", 400, "bad JSON"},
		{"wrong type", "POST", "/api/v1/incidents/a/updates", `{"status":1,"body":"x"}`, "good", 400, "bad JSON"},
		{"trailing data", "POST", "/api/v1/incidents/a/updates", `{"status":"identified","body":"x"} {}`, "good", 400, ""},
		{"empty body", "POST", "/api/v1/incidents/a/updates", ``, "good", 400, "empty request body"},
		{"unknown field", "POST", "/api/v1/incidents/a/updates", `{"status":"identified","body":"x","author":"me"}`, "good", 400, "author"},
		{"bad status", "POST", "/api/v1/incidents/a/updates", `{"status":"fixed","body":"x"}`, "good", 422, "status"},
		{"empty text", "POST", "/api/v1/incidents/a/updates", `{"status":"identified","body":"  "}`, "good", 422, "body: required"},
		{"text too long", "POST", "/api/v1/incidents/a/updates", long, "good", 422, "body: longer"},
		{"oversized", "POST", "/api/v1/incidents/a/updates", big, "good", 413, "larger than"},
		{"create without name", "POST", "/api/v1/incidents", `{"body":"x"}`, "good", 422, "name: required"},
		{"create resolved", "POST", "/api/v1/incidents", `{"name":"n","status":"resolved","body":"x"}`, "good", 422, "status"},
		{"create bad component", "POST", "/api/v1/incidents", `{"name":"n","body":"x","components":{"web":"down"}}`, "good", 422, "components.web"},
		{"create bad impact", "POST", "/api/v1/incidents", `{"name":"n","body":"x","impact":"huge"}`, "good", 422, "impact"},
		{"empty name", "POST", "/api/v1/incidents/a/name", `{"name":""}`, "good", 422, "name: required"},
		{"unknown id update", "POST", "/api/v1/incidents/zzz/updates", `{"status":"identified","body":"x"}`, "good", 404, `"zzz"`},
		{"unknown id resolve", "POST", "/api/v1/incidents/zzz/resolve", `{}`, "good", 404, "unknown incident"},
		{"unknown id rename", "POST", "/api/v1/incidents/zzz/name", `{"name":"n"}`, "good", 404, "unknown incident"},
		{"wrong method", "GET", "/api/v1/incidents/a/updates", ``, "good", 405, ""},
		{"wrong method create", "DELETE", "/api/v1/incidents", ``, "good", 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, srv)
			f.open("web", detector.MajorOutage, 0)
			auth := tc.auth
			if auth == "good" {
				auth = "Bearer " + testToken
			}
			code, m, hdr := f.do(tc.method, tc.path, tc.body, auth)
			if code != tc.want {
				t.Fatalf("status %d, want %d: %v", code, tc.want, m)
			}
			if tc.want >= 400 {
				msg, _ := m["error"].(string)
				if msg == "" || !strings.Contains(msg, tc.errPart) {
					t.Errorf("error = %q, want it to contain %q", msg, tc.errPart)
				}
				if strings.Contains(msg, testToken) {
					t.Error("error message shows the token")
				}
			}
			if tc.want == 401 && hdr.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tc.want == 405 && !strings.Contains(hdr.Get("Allow"), "POST") {
				t.Errorf("Allow = %q", hdr.Get("Allow"))
			}
			if tc.want < 300 {
				if id, _ := m["id"].(string); id == "" || m["status"] == "" || m["name"] == "" {
					t.Errorf("response = %v", m)
				}
			}
			if tc.want >= 400 && tc.path != "/api/v1/incidents" {
				// Nothing was written.
				if n := len(f.incident("a").Updates); n != 1 {
					t.Errorf("updates after a refused request = %d", n)
				}
			}
		})
	}
}

func TestDisabled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redistest.Start(t))
	empty := ""
	f.token.Store(&empty)
	for _, auth := range []string{"", "Bearer " + testToken, "Bearer "} {
		code, m, _ := f.do("POST", "/api/v1/incidents", `{"name":"n","body":"b"}`, auth)
		if code != 403 || m["error"] != "write API disabled: set server.api_token or api_token_file" {
			t.Errorf("auth %q: %d %v", auth, code, m)
		}
	}
	// A reload that sets a token enables it at once.
	tok := testToken
	f.token.Store(&tok)
	if code, m := f.post("/api/v1/incidents", `{"name":"n","body":"b"}`); code != 201 {
		t.Errorf("after setting a token: %d %v", code, m)
	}
}

func TestManualIncident(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redistest.Start(t))
	code, m := f.post("/api/v1/incidents",
		`{"name":"Email delays","body":"Mail is slow.","components":{"mail":"degraded_performance"}}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	id := m["id"].(string)
	if m["name"] != "Email delays" || m["status"] != "investigating" || m["auto"] != false || m["impact"] != "minor" {
		t.Errorf("created = %v", m)
	}
	inc := f.incident(id)
	if inc.Auto || len(inc.Updates) != 1 || inc.Updates[0].Body != "Mail is slow." || !inc.CreatedAt.Equal(t0) {
		t.Errorf("stored = %+v", inc)
	}
	code, m = f.post("/api/v1/incidents/"+id+"/resolve", ``)
	if code != 200 || m["status"] != "resolved" || m["resolved_at"] == nil {
		t.Errorf("resolve: %d %v", code, m)
	}
	if u := f.incident(id).Updates; len(u) != 2 || u[1].Body != api.ResolvedBody {
		t.Errorf("updates = %+v", u)
	}
}

// TestAutomationNeverOverwrites: a person's name and text stay while
// automation appends its own updates.
func TestAutomationNeverOverwrites(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redistest.Start(t))
	f.open("web", detector.DegradedPerformance, 0)
	if code, m := f.post("/api/v1/incidents/a/name", `{"name":"Checkout is slow"}`); code != 200 {
		t.Fatalf("rename: %d %v", code, m)
	}
	const text = "We found a slow query and are fixing it."
	if code, m := f.post("/api/v1/incidents/a/updates", `{"status":"identified","body":"`+text+`"}`); code != 200 {
		t.Fatalf("update: %d %v", code, m)
	}
	// Automation: the outage worsens, another component joins, all recover.
	f.open("web", detector.MajorOutage, time.Minute)
	f.open("api", detector.PartialOutage, 2*time.Minute)
	f.open("web", detector.Operational, 3*time.Minute)
	f.open("api", detector.Operational, 4*time.Minute)
	inc := f.incident("a")
	if inc.Name != "Checkout is slow" {
		t.Errorf("name = %q, want the person's", inc.Name)
	}
	if len(inc.Updates) != 6 || inc.Updates[1].Body != text || inc.Updates[1].Status != incident.Identified {
		t.Fatalf("updates = %+v", inc.Updates)
	}
	if inc.Updates[2].Status != incident.Identified || inc.Updates[3].Status != incident.Identified {
		t.Errorf("automation changed identified: %+v", inc.Updates[2:4])
	}
	// Moved by hand: only a person ends it (docs/architecture.md).
	if inc.Status != incident.Identified {
		t.Errorf("status = %s, want identified", inc.Status)
	}
}

// TestResolveWhileFailing: a person resolves while web still fails; the
// engine's next resync confirms the failure and the incident reopens.
func TestResolveWhileFailing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redistest.Start(t))
	f.open("web", detector.MajorOutage, 0)
	if code, m := f.post("/api/v1/incidents/a/resolve", `{"body":"Should be fixed."}`); code != 200 || m["status"] != "resolved" {
		t.Fatalf("resolve: %d %v", code, m)
	}
	if tr := f.open("web", detector.MajorOutage, 30*time.Second); tr.Action != incident.ActionReopened || tr.IncidentID != "a" {
		t.Fatalf("resync = %+v, want reopened a", tr)
	}
	if inc := f.incident("a"); inc.Status != incident.Investigating || len(inc.Updates) != 3 {
		t.Errorf("incident = %+v", inc)
	}
}
