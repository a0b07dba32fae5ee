package status

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/tocsin/tocsin/config"
)

// maintPaths are the public documents that list scheduled maintenances.
var maintPaths = []string{pathMaintenances, pathMaintActive, pathMaintUpcoming, pathSummary}

// maintDoc is one GET of a replica's public document.
type maintDoc struct {
	body []byte
	etag string
}

// getMaintDocs GETs every maintenance document from a running server.
func getMaintDocs(t *testing.T, base string) map[string]maintDoc {
	t.Helper()
	out := map[string]maintDoc{}
	for _, path := range maintPaths {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d, %v", path, resp.StatusCode, err)
		}
		out[path] = maintDoc{data, resp.Header.Get("ETag")}
	}
	return out
}

// TestMaintenanceHistoryServed drives two replicas, whose own clocks are
// seconds apart, through a window's phases by the store's clock, and
// reads the public documents over HTTP: at each phase both serve the same
// bytes and ETags, the window has one update per phase so far, listed in
// the endpoints of its phase, and an update once served is served again
// byte for byte at every later phase.
func TestMaintenanceHistoryServed(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	start, end := t0.Add(time.Minute), t0.Add(2*time.Minute)
	cfg.Maintenance = []config.Maintenance{{Name: "DB upgrade", Components: []string{"db", "api"},
		Start: start, End: end, Message: "Database upgrade"}}
	store := newFakeStore(operationalState()) // its clock reads t0
	a := newReplica(store, cfg, t0.Add(3*time.Second), true)
	b := newReplica(store, cfg, t0.Add(11*time.Second), true)
	var bases []string
	for _, rp := range []*replica{a, b} {
		ts := httptest.NewServer(rp.server.Handler())
		t.Cleanup(ts.Close)
		bases = append(bases, ts.URL)
	}
	phases := []struct {
		phase   string
		advance time.Duration // the store's clock, from the previous phase
		lists   map[string]bool
	}{
		{phaseScheduled, 0, map[string]bool{pathMaintUpcoming: true, pathSummary: true}},
		{phaseInProgress, 90 * time.Second, map[string]bool{pathMaintActive: true, pathSummary: true}},
		{phaseCompleted, time.Minute, map[string]bool{}},
	}
	seen := map[string]json.RawMessage{} // update id: as first served
	for _, ph := range phases {
		store.advance(ph.advance)
		a.clock.Add(int64(ph.advance))
		b.clock.Add(int64(ph.advance + 2*time.Second))
		for _, rp := range []*replica{a, b} {
			if err := rp.r.cycle(t.Context(), false); err != nil {
				t.Fatal(err)
			}
		}
		docA, docB := getMaintDocs(t, bases[0]), getMaintDocs(t, bases[1])
		for _, path := range maintPaths {
			if !bytes.Equal(docA[path].body, docB[path].body) || docA[path].etag != docB[path].etag {
				t.Errorf("%s: the replicas serve %s differently (ETags %s, %s)", ph.phase, path, docA[path].etag,
					docB[path].etag)
			}
			var doc struct {
				ScheduledMaintenances []json.RawMessage `json:"scheduled_maintenances"`
			}
			if err := json.Unmarshal(docA[path].body, &doc); err != nil {
				t.Fatal(err)
			}
			want := 0
			if path == pathMaintenances || ph.lists[path] {
				want = 1
			}
			if len(doc.ScheduledMaintenances) != want {
				t.Errorf("%s: %s lists %d maintenances, want %d", ph.phase, path, len(doc.ScheduledMaintenances), want)
				continue
			}
			for _, raw := range doc.ScheduledMaintenances {
				checkServedHistory(t, ph.phase, path, raw, seen)
			}
		}
	}
}

// checkServedHistory checks one served maintenance at phase: its updates,
// and that those served before are unchanged. It records them in seen.
func checkServedHistory(t *testing.T, phase, path string, raw json.RawMessage, seen map[string]json.RawMessage) {
	t.Helper()
	var m maintenanceJSON
	var rawUpdates struct {
		IncidentUpdates []json.RawMessage `json:"incident_updates"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &rawUpdates); err != nil {
		t.Fatal(err)
	}
	if m.Status != phase || !slices.Equal(maintUpdateIDs(m), maintHistory(m.ID, phase)) {
		t.Errorf("%s: %s shows %s with updates %q, want %q", phase, path, m.Status, maintUpdateIDs(m),
			maintHistory(m.ID, phase))
	}
	describeUpdates(t, m)
	for i, u := range m.IncidentUpdates {
		if len(u.AffectedComponents) != 2 {
			t.Errorf("%s: update %s affects %+v, want api and db", phase, u.ID, u.AffectedComponents)
		}
		if before, ok := seen[u.ID]; ok && !bytes.Equal(before, rawUpdates.IncidentUpdates[i]) {
			t.Errorf("%s: update %s changed:\n%s\nwas\n%s", phase, u.ID, rawUpdates.IncidentUpdates[i], before)
		}
		seen[u.ID] = rawUpdates.IncidentUpdates[i]
	}
}

// maintTimeline is a maintenance article of the page: its updates as
// "status|datetime|body", in page order.
func maintTimeline(t *testing.T, page []byte, id string) []string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var article *html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "article" && maintAttr(n, "data-maintenance") == id {
			article = n
		}
	}
	if article == nil {
		return nil
	}
	var out []string
	for n := range article.Descendants() {
		if n.Type != html.ElementNode || n.Data != "div" || maintAttr(n, "class") != "update" {
			continue
		}
		var parts []string
		for c := range n.Descendants() {
			if c.Type == html.ElementNode && (c.Data == "b" || c.Data == "p") {
				parts = append(parts, maintText(c))
			}
			if c.Type == html.ElementNode && c.Data == "time" {
				parts = append(parts, maintAttr(c, "datetime"))
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

func maintAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func maintText(n *html.Node) string {
	var sb strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			sb.WriteString(c.Data)
		}
	}
	return sb.String()
}

// TestMaintenanceTimelineOnPage: the page shows an upcoming or running
// window with its timeline, newest first, as the JSON does; a completed
// one is no longer among them.
func TestMaintenanceTimelineOnPage(t *testing.T) {
	t.Parallel()
	epoch := t0.Add(-100 * time.Hour)
	scheduled := "scheduled|" + epoch.Format(timeLayout) + "|Database upgrade"
	tests := []struct {
		name string
		now  time.Time
		want []string
	}{
		{"scheduled", t0.Add(-time.Minute), []string{scheduled}},
		{"in progress", t0.Add(time.Minute), []string{
			"in progress|" + t0.Format(timeLayout) + "|Maintenance is in progress.", scheduled}},
		{"completed", t0.Add(time.Hour), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.Maintenance = []config.Maintenance{{Name: "DB upgrade", Components: []string{"db"},
				Start: t0, End: t0.Add(time.Hour), Message: "Database upgrade"}}
			page, _, _ := mustBuild(t, Inputs{Config: cfg, Now: tt.now, Epoch: epoch}).Body(pathPage)
			if got := maintTimeline(t, page, "mnt-db-upgrade"); !slices.Equal(got, tt.want) {
				t.Errorf("timeline on the page:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
