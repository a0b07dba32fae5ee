package status

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/detector"
)

// preparedBuilder maps the inputs as build does, up to the encoding. A test
// config carries no resolved secrets, so the scrubber is given them.
func preparedBuilder(t testing.TB, in Inputs, secrets ...string) *builder {
	t.Helper()
	b := newBuilder(in, nil)
	if len(secrets) > 0 {
		b.scrub = newScrubber(secrets)
	}
	b.buildMaintenance()
	b.buildComponents()
	b.incidents = sortIncidents(in.State.Incidents)
	b.indicator = b.overall()
	b.page.UpdatedAt = b.ts(b.pageUpdatedAt())
	return b
}

// What a test reads back from either feed, parsed with structs of its own
// (not the ones that wrote it) and namespaces spelled out.
type (
	parsedFeed struct {
		title, link string
		updated     time.Time
		entries     []parsedEntry
	}
	parsedEntry struct {
		id, title, link, summary string
		updated                  time.Time
	}
)

type testAtomFeed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"http://www.w3.org/2005/Atom id"`
	Title   string   `xml:"http://www.w3.org/2005/Atom title"`
	Updated string   `xml:"http://www.w3.org/2005/Atom updated"`
	Links   []struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	} `xml:"http://www.w3.org/2005/Atom link"`
	Author  string `xml:"http://www.w3.org/2005/Atom author>name"`
	Entries []struct {
		ID      string `xml:"http://www.w3.org/2005/Atom id"`
		Title   string `xml:"http://www.w3.org/2005/Atom title"`
		Updated string `xml:"http://www.w3.org/2005/Atom updated"`
		Link    struct {
			Rel  string `xml:"rel,attr"`
			Href string `xml:"href,attr"`
		} `xml:"http://www.w3.org/2005/Atom link"`
		Summary struct {
			Type string `xml:"type,attr"`
			Text string `xml:",chardata"`
		} `xml:"http://www.w3.org/2005/Atom summary"`
	} `xml:"http://www.w3.org/2005/Atom entry"`
}

type testRSS struct {
	XMLName xml.Name `xml:"rss"`
	Version string   `xml:"version,attr"`
	Channel struct {
		Title string `xml:"title"`
		// Before Link, which would also take atom:link.
		Self []struct {
			Rel  string `xml:"rel,attr"`
			Href string `xml:"href,attr"`
		} `xml:"http://www.w3.org/2005/Atom link"`
		Link          string `xml:"link"`
		Description   string `xml:"description"`
		LastBuildDate string `xml:"lastBuildDate"`
		Items         []struct {
			Title       string `xml:"title"`
			Link        string `xml:"link"`
			Description string `xml:"description"`
			GUID        struct {
				IsPermaLink string `xml:"isPermaLink,attr"`
				ID          string `xml:",chardata"`
			} `xml:"guid"`
			PubDate string `xml:"pubDate"`
		} `xml:"item"`
	} `xml:"channel"`
}

var feedUUID = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func parseTime(t *testing.T, what, layout, s string) time.Time {
	t.Helper()
	v, err := time.Parse(layout, s)
	if err != nil {
		t.Errorf("%s: %q is not %s: %v", what, s, layout, err)
	}
	return v
}

// parseAtom parses an Atom feed and checks what RFC 4287 requires.
func parseAtom(t *testing.T, data []byte) parsedFeed {
	t.Helper()
	var f testAtomFeed
	if err := xml.Unmarshal(data, &f); err != nil {
		t.Fatalf("atom does not parse: %v\n%s", err, data)
	}
	if !feedUUID.MatchString(f.ID) {
		t.Errorf("feed id %q is not a version 5 urn:uuid", f.ID)
	}
	if f.Author == "" {
		t.Error("feed has no author name")
	}
	out := parsedFeed{title: f.Title, updated: parseTime(t, "feed updated", time.RFC3339, f.Updated)}
	rels := map[string]string{}
	for _, l := range f.Links {
		rels[l.Rel] = l.Href
	}
	out.link = rels["alternate"]
	if self := rels["self"]; !strings.HasSuffix(self, pathHistoryAtom) {
		t.Errorf("self link %q", self)
	}
	ids := map[string]bool{f.ID: true}
	for i, e := range f.Entries {
		if !feedUUID.MatchString(e.ID) || ids[e.ID] {
			t.Errorf("entry %d: id %q not a version 5 urn:uuid, or not unique", i, e.ID)
		}
		ids[e.ID] = true
		if e.Link.Rel != "alternate" || e.Summary.Type != "text" {
			t.Errorf("entry %d: link rel %q, summary type %q", i, e.Link.Rel, e.Summary.Type)
		}
		out.entries = append(out.entries, parsedEntry{id: e.ID, title: e.Title, link: e.Link.Href,
			summary: e.Summary.Text, updated: parseTime(t, "entry updated", time.RFC3339, e.Updated)})
	}
	return out
}

// parseRSS parses an RSS 2.0 feed and checks what the specification
// requires.
func parseRSS(t *testing.T, data []byte) parsedFeed {
	t.Helper()
	var f testRSS
	if err := xml.Unmarshal(data, &f); err != nil {
		t.Fatalf("rss does not parse: %v\n%s", err, data)
	}
	ch := f.Channel
	if f.Version != "2.0" || ch.Title == "" || ch.Link == "" || ch.Description == "" {
		t.Errorf("rss version %q, channel title %q, link %q, description %q",
			f.Version, ch.Title, ch.Link, ch.Description)
	}
	for _, s := range ch.Self {
		if s.Rel != "self" || !strings.HasPrefix(s.Href, "http") || !strings.HasSuffix(s.Href, pathHistoryRSS) {
			t.Errorf("atom:link rel %q href %q", s.Rel, s.Href)
		}
	}
	out := parsedFeed{title: ch.Title, link: ch.Link,
		updated: parseTime(t, "lastBuildDate", time.RFC1123Z, ch.LastBuildDate)}
	ids := map[string]bool{}
	for i, it := range ch.Items {
		if it.GUID.IsPermaLink != "false" || !feedUUID.MatchString(it.GUID.ID) || ids[it.GUID.ID] {
			t.Errorf("item %d: guid %q isPermaLink %q", i, it.GUID.ID, it.GUID.IsPermaLink)
		}
		ids[it.GUID.ID] = true
		out.entries = append(out.entries, parsedEntry{id: it.GUID.ID, title: it.Title, link: it.Link,
			summary: rssText(t, it.Description), updated: parseTime(t, "pubDate", time.RFC1123Z, it.PubDate)})
	}
	return out
}

var feedFormats = []struct {
	name   string
	render func(*builder) ([]byte, error)
	parse  func(*testing.T, []byte) parsedFeed
}{
	{"atom", (*builder).renderAtom, parseAtom},
	{"rss", (*builder).renderRSS, parseRSS},
}

func render(t *testing.T, f func(*builder) ([]byte, error), b *builder) []byte {
	t.Helper()
	data, err := f(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte(xml.Header)) {
		t.Errorf("no XML declaration: %.60s", data)
	}
	return data
}

func TestFeeds(t *testing.T) {
	t.Parallel()
	noURL := scenarios()[1].in
	noURL.Config = testConfig()
	noURL.Config.Page.URL = ""
	tests := []struct {
		name     string
		in       Inputs
		link     string // the page's
		entry    string // the first entry's link
		titles   []string
		updated  time.Time
		summary0 []string // in this order
	}{
		{"incident", scenarios()[1].in, "https://status.acme.example",
			"https://status.acme.example/incidents/openincident",
			[]string{"Web App and API unavailable", "Email delays"}, t0.Add(-9 * time.Minute),
			[]string{"Status: investigating. Impact: critical.", "Affected: Web App, API.", "Started: Nov 21, 2026 09:49:00 UTC",
				"09:51:00 UTC - investigating: API is down", "09:50:00 UTC - investigating: Web App is slow"}},
		{"no page url", noURL, "/", "/incidents/openincident",
			[]string{"Web App and API unavailable", "Email delays"}, t0.Add(-9 * time.Minute), nil},
		{"operational", scenarios()[0].in, "https://status.acme.example",
			"https://status.acme.example/incidents/oldincident01",
			[]string{"Email delays"}, t0.Add(-48*time.Hour + 30*time.Minute),
			[]string{"Status: resolved. Impact: minor.", "Affected: Email Processing.", "Resolved: Nov 19, 2026 10:30:00 UTC.",
				"Lasted: 32 min.", "10:30:00 UTC - resolved: Resolved", "10:20:00 UTC - monitoring: Recovered",
				"10:00:00 UTC - investigating: Email Processing is degraded"}},
	}
	for _, f := range feedFormats {
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				got := f.parse(t, render(t, f.render, preparedBuilder(t, tt.in)))
				if got.title != "Acme Status incident history" || got.link != tt.link || !got.updated.Equal(tt.updated) {
					t.Errorf("feed title %q link %q updated %v; want link %q updated %v",
						got.title, got.link, got.updated, tt.link, tt.updated)
				}
				if len(got.entries) != len(tt.titles) {
					t.Fatalf("%d entries, want %d", len(got.entries), len(tt.titles))
				}
				for i, e := range got.entries {
					if e.title != tt.titles[i] {
						t.Errorf("entry %d title %q, want %q", i, e.title, tt.titles[i])
					}
				}
				e := got.entries[0]
				if e.link != tt.entry || !e.updated.Equal(tt.updated) {
					t.Errorf("entry link %q updated %v", e.link, e.updated)
				}
				rest := e.summary
				for _, want := range tt.summary0 {
					i := strings.Index(rest, want)
					if i < 0 {
						t.Fatalf("summary lacks %q (in order):\n%s", want, e.summary)
					}
					rest = rest[i+len(want):]
				}
			})
		}
	}
}

// TestFeedIDsAreStable: the same incident has the same id in both feeds,
// whatever the page URL; another page gives other ids.
func TestFeedIDsAreStable(t *testing.T) {
	t.Parallel()
	in := scenarios()[1].in
	atom := parseAtom(t, render(t, (*builder).renderAtom, preparedBuilder(t, in)))
	in.Config = testConfig()
	in.Config.Page.URL = "https://elsewhere.example"
	rss := parseRSS(t, render(t, (*builder).renderRSS, preparedBuilder(t, in)))
	for i := range atom.entries {
		if atom.entries[i].id != rss.entries[i].id {
			t.Errorf("entry %d: atom id %q, rss guid %q", i, atom.entries[i].id, rss.entries[i].id)
		}
	}
	in.Config.Page.ID = "otherpage"
	other := parseRSS(t, render(t, (*builder).renderRSS, preparedBuilder(t, in)))
	if other.entries[0].id == rss.entries[0].id {
		t.Errorf("pages %q and %q give the same incident id %q", "acmepage", "otherpage", rss.entries[0].id)
	}
}

func TestFeedEscapesAndScrubs(t *testing.T) {
	t.Parallel()
	const secret = "canarysecret"
	in := scenarios()[1].in
	in.Config = testConfig()
	in.Config.Components[1].Name = `R&D <mail> "relay"`
	in.State = incidentState()
	hostile := resolvedIncident()
	hostile.ID, hostile.CreatedAt = "hostile", t0.Add(-time.Hour)
	hostile.Name = "Pipes <&> \"quoted\" 'single' ]]> " + secret + " \x01"
	hostile.Updates[0].Body = "token=" + secret + " </summary></description><script>alert(1)</script>"
	in.State.Incidents = append(in.State.Incidents, hostile)
	b := preparedBuilder(t, in, secret)
	for _, f := range feedFormats {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			data := render(t, f.render, b)
			for _, bad := range []string{secret, "<script>", "<mail>", "\x01"} {
				if bytes.Contains(data, []byte(bad)) {
					t.Errorf("feed contains %q", bad)
				}
			}
			got := f.parse(t, data)
			e := got.entries[1]
			if want := "Pipes <&> \"quoted\" 'single' ]]> <redacted> \uFFFD"; e.title != want {
				t.Errorf("title %q, want %q", e.title, want)
			}
			for _, want := range []string{`Affected: R&D <mail> "relay".`,
				"token=<redacted> </summary></description><script>alert(1)</script>"} {
				if !strings.Contains(e.summary, want) {
					t.Errorf("summary lacks %q:\n%s", want, e.summary)
				}
			}
		})
	}
}

// rssText reads an RSS description back as the text it was made from; it
// must hold no markup but <br>.
func rssText(t *testing.T, desc string) string {
	t.Helper()
	text := strings.ReplaceAll(desc, "<br>\n", "\n")
	if strings.ContainsAny(text, "<>") {
		t.Errorf("RSS description holds markup: %q", desc)
	}
	return html.UnescapeString(text)
}

// TestFeedEmpty: no incidents is a valid feed whose updated time comes from
// the state (here the epoch), never the clock.
func TestFeedEmpty(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Page.URL, cfg.Page.Name, cfg.Maintenance = "", "", nil
	epoch := t0.Add(-100 * time.Hour)
	in := Inputs{Config: cfg, Now: t0, Epoch: epoch}
	for _, f := range feedFormats {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			data := render(t, f.render, preparedBuilder(t, in))
			got := f.parse(t, data)
			if len(got.entries) != 0 || !got.updated.Equal(epoch) || got.link != "/" || got.title != "Incident history" {
				t.Errorf("entries %d, updated %v (want %v), link %q, title %q\n%s",
					len(got.entries), got.updated, epoch, got.link, got.title, data)
			}
		})
	}
}

// TestFeedIsDeterministic: rebuilding the same state later gives the same
// bytes.
func TestFeedIsDeterministic(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios() {
		later := sc.in
		later.Now = later.Now.Add(time.Minute)
		for _, f := range feedFormats {
			t.Run(f.name+"/"+sc.name, func(t *testing.T) {
				t.Parallel()
				a := render(t, f.render, preparedBuilder(t, sc.in))
				b := render(t, f.render, preparedBuilder(t, later))
				if !bytes.Equal(a, b) {
					t.Errorf("two builds differ:\n%s\n---\n%s", a, b)
				}
			})
		}
	}
}

// TestFeedLimit: the feeds list the incidentLimit newest incidents, as
// /api/v2/incidents.json does.
func TestFeedLimit(t *testing.T) {
	t.Parallel()
	st := operationalState()
	st.Incidents = nil
	for i := range incidentLimit + 10 {
		in := resolvedIncident()
		in.ID, in.Name = fmt.Sprintf("inc%03d", i), fmt.Sprintf("Incident %03d", i)
		in.CreatedAt = t0.Add(-time.Duration(i) * time.Hour)
		in.UpdatedAt = in.CreatedAt.Add(time.Minute)
		st.Incidents = append(st.Incidents, in)
	}
	b := preparedBuilder(t, Inputs{Config: testConfig(), State: st, Now: t0})
	for _, f := range feedFormats {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			got := f.parse(t, render(t, f.render, b))
			if len(got.entries) != incidentLimit {
				t.Fatalf("%d entries, want %d", len(got.entries), incidentLimit)
			}
			first, last := got.entries[0], got.entries[incidentLimit-1]
			if first.title != "Incident 000" || last.title != fmt.Sprintf("Incident %03d", incidentLimit-1) {
				t.Errorf("entries run from %q to %q", first.title, last.title)
			}
			if !got.updated.Equal(t0.Add(time.Minute)) {
				t.Errorf("feed updated %v", got.updated)
			}
		})
	}
}

// TestFeedTimeZone: times are in the page's zone, in each format's layout.
func TestFeedTimeZone(t *testing.T) {
	t.Parallel()
	in := scenarios()[0].in
	in.Config = testConfig()
	in.Config.Page.TimeZone = "America/New_York"
	b := preparedBuilder(t, in)
	tests := map[string]string{
		"atom": "<updated>2026-11-19T05:30:00.000-05:00</updated>",
		"rss":  "<pubDate>Thu, 19 Nov 2026 05:30:00 -0500</pubDate>",
	}
	for _, f := range feedFormats {
		data := render(t, f.render, b)
		if !bytes.Contains(data, []byte(tests[f.name])) {
			t.Errorf("%s lacks %s:\n%s", f.name, tests[f.name], data)
		}
	}
}

// TestFeedAffectedGoneComponent: a component no longer configured still
// shows in the incident's summary, by id.
func TestFeedAffectedGoneComponent(t *testing.T) {
	t.Parallel()
	st := operationalState()
	st.Incidents[0].Components = map[string]detector.ComponentStatus{"email": detector.Operational,
		"retired": detector.Operational}
	b := preparedBuilder(t, Inputs{Config: testConfig(), State: st, Now: t0})
	got := parseRSS(t, render(t, (*builder).renderRSS, b))
	if want := "Affected: Email Processing, retired."; !strings.Contains(got.entries[0].summary, want) {
		t.Errorf("summary lacks %q:\n%s", want, got.entries[0].summary)
	}
}

// TestFeedIDsUnchanged: the ids are what the hand-rolled version 5 UUIDs
// of earlier releases were, so a feed reader does not see every entry
// again after an upgrade.
func TestFeedIDsUnchanged(t *testing.T) {
	t.Parallel()
	b := &builder{page: pageJSON{ID: "acme"}}
	for incident, want := range map[string]string{
		"":      "urn:uuid:99bb6a37-ae5e-55e0-b462-1fe24e8f7f33",
		"inc-1": "urn:uuid:4ff47028-7c59-58c8-9581-a2b495039a77",
	} {
		if got := b.feedID(incident); got != want {
			t.Errorf("feedID(%q) = %s, want %s", incident, got, want)
		}
	}
}
