package status

import (
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
)

// burstIncident is a resolved incident with five updates within one minute
// (08:17) and its resolution at 08:18:00: it lasted 4 min 12 s by the
// times shown to the second (08:13:48 to 08:18:00).
func burstIncident() incident.Incident {
	at := func(hms string) time.Time {
		t, err := time.Parse("15:04:05.000", hms)
		if err != nil {
			panic(err)
		}
		return time.Date(2026, 11, 21, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	}
	web := func(old, new detector.ComponentStatus) []incident.AffectedComponent {
		return []incident.AffectedComponent{{Code: "web-app", Name: "Web App", OldStatus: old, NewStatus: new}}
	}
	return incident.Incident{
		ID: "burst0000001", Name: "Web App flapping", Status: incident.Resolved, Impact: incident.ImpactMajor,
		Auto: true, StartedAt: at("08:13:48.700"), CreatedAt: at("08:17:03.400"), UpdatedAt: at("08:18:00.200"),
		MonitoringAt: at("08:17:58.000"), ResolvedAt: at("08:18:00.200"),
		Components: map[string]detector.ComponentStatus{"web-app": detector.Operational},
		Updates: []incident.Update{
			{ID: "b1", Status: incident.Investigating, Body: "Web App is down", CreatedAt: at("08:17:03.400"),
				AffectedComponents: web(detector.Operational, detector.MajorOutage)},
			{ID: "b2", Status: incident.Identified, Body: "A bad deploy", CreatedAt: at("08:17:15.000")},
			{ID: "b3", Status: incident.Monitoring, Body: "Rolled back", CreatedAt: at("08:17:31.000"),
				AffectedComponents: web(detector.MajorOutage, detector.Operational)},
			{ID: "b4", Status: incident.Investigating, Body: "Down again", CreatedAt: at("08:17:44.000"),
				AffectedComponents: web(detector.Operational, detector.PartialOutage)},
			{ID: "b5", Status: incident.Monitoring, Body: "Recovered", CreatedAt: at("08:17:58.000"),
				AffectedComponents: web(detector.PartialOutage, detector.Operational)},
			{ID: "b6", Status: incident.Resolved, Body: "Resolved", CreatedAt: at("08:18:00.200")},
		},
	}
}

// serveHTTP starts a real server on 127.0.0.1 for h.
func serveHTTP(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// fetch does one request without following redirects or decompressing.
func fetch(t *testing.T, method, u string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestIncidentRoute: GET /incidents/{id} serves the incident's page from
// the snapshot like every page (ETag, 304, HEAD, cache headers, gzip), and
// an unknown or malformed id gets the HTML not-found page, never a 500 or
// another body.
func TestIncidentRoute(t *testing.T) {
	t.Parallel()
	in := scenarios()[1].in
	srv := serveHTTP(t, newTestServer(t, ServerOptions{}, &in).Handler())
	page, _ := fetch(t, http.MethodGet, srv.URL+"/incidents/openincident", nil)
	etag := page.Header.Get("ETag")
	const found, notFound = "<h2>Web App and API unavailable</h2>", "<h2>Incident not found</h2>"
	for _, tc := range []struct {
		name, method, path string
		hdr                map[string]string
		code               int
		contentType        string
		contains           string // "" wants an empty body
		cacheControl       string
	}{
		{"open incident", "GET", "/incidents/openincident", nil, 200, contentTypeHTML, found, "public, max-age=10"},
		{"resolved incident", "GET", "/incidents/oldincident01", nil, 200, contentTypeHTML, "<h2>Email delays</h2>", "public, max-age=10"},
		{"head", "HEAD", "/incidents/openincident", nil, 200, contentTypeHTML, "", "public, max-age=10"},
		{"if-none-match", "GET", "/incidents/openincident", map[string]string{"If-None-Match": etag}, 304, "", "", "public, max-age=10"},
		{"stale etag", "GET", "/incidents/openincident", map[string]string{"If-None-Match": `"other"`}, 200, contentTypeHTML, found, "public, max-age=10"},
		{"unknown", "GET", "/incidents/nosuchincid", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"head unknown", "HEAD", "/incidents/nosuchincid", nil, 404, contentTypeHTML, "", "no-store"},
		{"upper case", "GET", "/incidents/OPENINCIDENT", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"too long", "GET", "/incidents/" + strings.Repeat("a", maxIncidentIDBytes+1), nil, 404, contentTypeHTML, notFound, "no-store"},
		{"empty", "GET", "/incidents/", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"trailing slash", "GET", "/incidents/openincident/", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"two segments", "GET", "/incidents/openincident/x", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"escaped slash", "GET", "/incidents/open%2Fincident", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"escaped dots", "GET", "/incidents/%2e%2e%2fhistory", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"escaped body path", "GET", "/incidents/..%2Fapi%2Fv2%2Fstatus.json", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"nul", "GET", "/incidents/openincident%00", nil, 404, contentTypeHTML, notFound, "no-store"},
		{"query", "GET", "/incidents/openincident?x=%2F..", nil, 200, contentTypeHTML, found, "public, max-age=10"},
		{"post", "POST", "/incidents/openincident", nil, 405, contentTypeJSON, "method not allowed", "no-store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := fetch(t, tc.method, srv.URL+tc.path, tc.hdr)
			if resp.StatusCode != tc.code || resp.Header.Get("Content-Type") != tc.contentType ||
				(tc.contains == "") != (body == "") || !strings.Contains(body, tc.contains) {
				t.Fatalf("%s %s = %d %q %.200q; want %d %q containing %q", tc.method, tc.path, resp.StatusCode,
					resp.Header.Get("Content-Type"), body, tc.code, tc.contentType, tc.contains)
			}
			if got := resp.Header.Get("Cache-Control"); got != tc.cacheControl {
				t.Errorf("Cache-Control %q, want %q", got, tc.cacheControl)
			}
			wantTag := "" // a not-found page has none
			switch {
			case tc.code == 404:
			case strings.HasPrefix(tc.path, "/incidents/openincident"):
				wantTag = etag
			default:
				wantTag = cmp.Or(resp.Header.Get("ETag"), "an ETag")
			}
			if tc.code != 405 && (resp.Header.Get("ETag") != wantTag || resp.Header.Get("X-Content-Type-Options") != "nosniff") {
				t.Errorf("ETag %q (want %q), nosniff %q", resp.Header.Get("ETag"), wantTag, resp.Header.Get("X-Content-Type-Options"))
			}
		})
	}
	t.Run("gzip", func(t *testing.T) {
		t.Parallel()
		resp, _ := fetch(t, "GET", srv.URL+"/incidents/openincident", map[string]string{"Accept-Encoding": "gzip"})
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("ETag") == etag {
			t.Errorf("gzip: %d, Content-Encoding %q, ETag %q", resp.StatusCode, resp.Header.Get("Content-Encoding"),
				resp.Header.Get("ETag"))
		}
	})
	t.Run("no snapshot yet", func(t *testing.T) {
		t.Parallel()
		srv := serveHTTP(t, NewServer(ServerOptions{}).Handler())
		if resp, _ := fetch(t, "GET", srv.URL+"/incidents/openincident", nil); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("before the first snapshot: %d, want 503", resp.StatusCode)
		}
	})
}

// TestIncidentPagesBounded: pages exist for exactly the incidents and
// maintenances the JSON lists (the incidentLimit most recent incidents and
// every open one), so their number is bounded by what the snapshot holds
// anyway.
func TestIncidentPagesBounded(t *testing.T) {
	t.Parallel()
	in := scenarios()[0].in
	in.State = operationalState()
	var ids []string
	for i := range incidentLimit + 5 {
		inc := resolvedIncident()
		inc.ID = "old" + strings.Repeat("0", 4) + string(rune('a'+i/26)) + string(rune('a'+i%26))
		inc.CreatedAt = inc.CreatedAt.Add(-time.Duration(i) * time.Minute)
		ids = append(ids, inc.ID)
		in.State.Incidents = append(in.State.Incidents, inc)
	}
	open := incidentState().Incidents[0]
	open.CreatedAt = t0.Add(-100 * 24 * time.Hour) // the oldest, yet open
	in.State.Incidents = append(in.State.Incidents, open)
	snap := mustBuild(t, in)
	pages, maint := 0, 0
	for _, p := range mustPaths(t, snap) {
		if strings.HasPrefix(p, pathIncidentPrefix+"mnt-") {
			maint++
		} else if strings.HasPrefix(p, pathIncidentPrefix) {
			pages++
		}
	}
	if want := incidentLimit + 1; pages != want || maint != 2 {
		t.Errorf("%d incident pages, %d maintenance pages; want %d and testConfig's 2", pages, maint, want)
	}
	for id, want := range map[string]bool{"oldincident01": true, ids[0]: true, ids[len(ids)-1]: false, "openincident": true} {
		if _, _, ok := snap.Body(pathIncidentPrefix + id); ok != want {
			t.Errorf("page of %s: %v, want %v", id, ok, want)
		}
	}
}

// TestIncidentPageTimeline: the page has every update with its status,
// body, time to the second and what it changed; the components with the
// worst status each reached; the impact and the duration.
func TestIncidentPageTimeline(t *testing.T) {
	t.Parallel()
	in := scenarios()[0].in
	in.State = operationalState()
	in.State.Incidents = append(in.State.Incidents, burstIncident())
	snap := mustBuild(t, in)
	data, _, ok := snap.Body(pathIncidentPrefix + "burst0000001")
	if !ok {
		t.Fatal("no page for burst0000001")
	}
	html := string(data)
	wantInOrder(t, html, []string{
		"<title>Web App flapping · Acme Status</title>",
		`<h2>Web App flapping</h2>`,
		`<dd class="status">resolved</dd>`, `<dd>major</dd>`,
		`<time datetime="2026-11-21T08:13:48.700Z">Nov 21, 2026 08:13:48 UTC</time>`,
		`<time datetime="2026-11-21T08:18:00.200Z">Nov 21, 2026 08:18:00 UTC</time>`,
		`<dd class="duration">lasted 4 min 12 s</dd>`,
		`<li data-component="web-app" data-status="major_outage">Web App: <span class="st major_outage">major outage</span> at worst</li>`,
		// Newest first, each to the second.
		`<b>resolved</b> <time class="meta" datetime="2026-11-21T08:18:00.200Z">Nov 21, 2026 08:18:00 UTC</time><p class="body">Resolved</p>`,
		`<b>monitoring</b> <time class="meta" datetime="2026-11-21T08:17:58.000Z">Nov 21, 2026 08:17:58 UTC</time><p class="body">Recovered</p>`,
		`<li>Web App: partial outage → operational</li>`,
		`Nov 21, 2026 08:17:44 UTC</time><p class="body">Down again</p>`,
		`Nov 21, 2026 08:17:31 UTC</time><p class="body">Rolled back</p>`,
		`Nov 21, 2026 08:17:15 UTC</time><p class="body">A bad deploy</p>`,
		`Nov 21, 2026 08:17:03 UTC</time><p class="body">Web App is down</p>`,
		`<li>Web App: operational → major outage</li>`,
	})
	if strings.Contains(html, `id="banner"`) || strings.Contains(html, "http-equiv") {
		t.Error("an incident page shows the live banner or refreshes itself: it would change with every state")
	}
}

// wantInOrder fails unless every string is in s, in this order.
func wantInOrder(t *testing.T, s string, wants []string) {
	t.Helper()
	rest := s
	for _, w := range wants {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("lacks %q (in order) after what came before; page:\n%s", w, s)
		}
		rest = rest[i+len(w):]
	}
}

// TestShortlinksServed: whatever page.url is (none, a host, a host and a
// path, with or without a trailing slash), every shortlink that
// incidents.json and scheduled-maintenances.json publish is the link the
// pages and feeds use for it, and the route answers it with the timeline.
// A path in page.url is the prefix a reverse proxy strips: the request
// reaches tocsin without it.
func TestShortlinksServed(t *testing.T) {
	t.Parallel()
	for _, pageURL := range []string{"", "https://status.acme.example", "https://status.acme.example/",
		"https://acme.example/status", "https://acme.example/status/", "http://127.0.0.1:8080/a/b"} {
		t.Run(pageURL, func(t *testing.T) {
			t.Parallel()
			in := scenarios()[1].in
			in.Config = goldenMaintenanceConfig()
			in.Config.Page.URL = pageURL
			in.State = incidentState()
			in.State.Incidents = append(in.State.Incidents, burstIncident())
			snap := mustBuild(t, in)
			srv := serveHTTP(t, newTestServer(t, ServerOptions{}, &in).Handler())
			type published struct {
				ID, Name        string
				Shortlink       *string
				IncidentUpdates []struct {
					Body      string
					CreatedAt string `json:"created_at"`
				} `json:"incident_updates"`
			}
			var incidents struct{ Incidents []published }
			var maint struct {
				ScheduledMaintenances []published `json:"scheduled_maintenances"`
			}
			for path, v := range map[string]any{pathIncidents: &incidents, pathMaintenances: &maint} {
				if _, body := fetch(t, "GET", srv.URL+path, nil); json.Unmarshal([]byte(body), v) != nil {
					t.Fatalf("%s: %s", path, body)
				}
			}
			if len(incidents.Incidents) != 3 || len(maint.ScheduledMaintenances) != 3 {
				t.Fatalf("%d incidents, %d maintenances; want 3 and 3", len(incidents.Incidents), len(maint.ScheduledMaintenances))
			}
			front, _, _ := snap.Body(pathPage)
			atom, _, _ := snap.Body(pathHistoryAtom)
			base, err := url.Parse(pageURL)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range append(incidents.Incidents, maint.ScheduledMaintenances...) {
				link := pathIncidentPrefix + p.ID
				if pageURL != "" {
					if p.Shortlink == nil {
						t.Fatalf("%s: no shortlink", p.ID)
					}
					link = *p.Shortlink
				} else if p.Shortlink != nil {
					t.Errorf("%s: shortlink %q without page.url", p.ID, *p.Shortlink)
				}
				if i < len(incidents.Incidents) && (!strings.Contains(string(front), `href="`+link+`"`) ||
					!strings.Contains(string(atom), `href="`+link+`"`)) {
					t.Errorf("the page or the Atom feed does not link %s to %s", p.ID, link)
				}
				u, err := url.Parse(link)
				if err != nil {
					t.Fatal(err)
				}
				path, ok := strings.CutPrefix(u.Path, strings.TrimSuffix(base.Path, "/"))
				if !ok || strings.Contains(u.Path, "//") || u.Host != base.Host {
					t.Fatalf("shortlink %q is not under page.url %q", link, pageURL)
				}
				resp, page := fetch(t, "GET", srv.URL+path, nil)
				if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<h2>"+p.Name+"</h2>") {
					t.Fatalf("GET %s (shortlink %s) = %d %.200q", path, link, resp.StatusCode, page)
				}
				for _, u := range p.IncidentUpdates {
					if !strings.Contains(page, `datetime="`+u.CreatedAt+`"`) || !strings.Contains(page, u.Body) {
						t.Errorf("%s: the page lacks the update of %s %q", link, u.CreatedAt, u.Body)
					}
				}
			}
		})
	}
}

// TestMaintenancePage: a scheduled maintenance's page has its window, its
// components and its updates, as scheduled-maintenances.json has them.
func TestMaintenancePage(t *testing.T) {
	t.Parallel()
	in := scenarios()[0].in
	in.Config = goldenMaintenanceConfig()
	snap := mustBuild(t, in)
	for _, tc := range []struct {
		id    string
		wants []string
	}{
		{"mnt-api-failover", []string{"<title>API failover · Acme Status</title>",
			`<article class="incident maintenance" id="incident-mnt-api-failover"`, `<h2>API failover</h2>`,
			`<dd class="status">in progress</dd>`,
			`<dt>Window</dt><dd><time datetime="2026-11-21T09:30:00.000Z">Nov 21, 2026 09:30:00 UTC</time> – ` +
				`<time datetime="2026-11-21T11:30:00.000Z">Nov 21, 2026 11:30:00 UTC</time></dd>`,
			`<dd class="duration">planned for 2 h</dd>`, `<li data-component="api">API</li>`,
			`<b>in progress</b> <time class="meta" datetime="2026-11-21T09:30:00.000Z">Nov 21, 2026 09:30:00 UTC</time>`}},
		{"mnt-old-window", []string{`<dd class="status">completed</dd>`, `<dd class="duration">lasted 1 h</dd>`,
			`<b>completed</b> <time class="meta" datetime="2026-11-18T11:00:00.000Z">Nov 18, 2026 11:00:00 UTC</time>`}},
	} {
		data, _, ok := snap.Body(pathIncidentPrefix + tc.id)
		if !ok {
			t.Errorf("no page for %s", tc.id)
			continue
		}
		wantInOrder(t, string(data), tc.wants)
	}
}
