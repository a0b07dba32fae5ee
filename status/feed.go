package status

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"fmt"
	"html"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tocsin/tocsin/incident"
)

// Paths and content types of the incident feeds.
const (
	pathHistoryAtom = "/history.atom"
	pathHistoryRSS  = "/history.rss"
	contentTypeAtom = "application/atom+xml; charset=utf-8"
	contentTypeRSS  = "application/rss+xml; charset=utf-8"
	feedGenerator   = "tocsin"
	atomNamespace   = "http://www.w3.org/2005/Atom"
)

// Atom 1.0 (RFC 4287).
type (
	atomFeed struct {
		XMLName   xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
		ID        string      `xml:"id"`
		Title     string      `xml:"title"`
		Subtitle  string      `xml:"subtitle,omitempty"`
		Updated   string      `xml:"updated"`
		Links     []atomLink  `xml:"link"`
		Author    atomPerson  `xml:"author"`
		Generator string      `xml:"generator"`
		Entries   []atomEntry `xml:"entry"`
	}
	atomLink struct {
		Rel  string `xml:"rel,attr"`
		Type string `xml:"type,attr,omitempty"`
		Href string `xml:"href,attr"`
	}
	atomPerson struct {
		Name string `xml:"name"`
	}
	atomEntry struct {
		ID         string         `xml:"id"`
		Title      string         `xml:"title"`
		Updated    string         `xml:"updated"`
		Published  string         `xml:"published"`
		Link       atomLink       `xml:"link"`
		Categories []atomCategory `xml:"category"`
		Summary    atomText       `xml:"summary"`
	}
	atomCategory struct {
		Term  string `xml:"term,attr"`
		Label string `xml:"label,attr"`
	}
	atomText struct {
		Type string `xml:"type,attr"`
		Text string `xml:",chardata"`
	}
)

// RSS 2.0, with Atom's rel="self" link as the RSS Advisory Board
// recommends.
type (
	rssDoc struct {
		XMLName xml.Name   `xml:"rss"`
		Version string     `xml:"version,attr"`
		AtomNS  string     `xml:"xmlns:atom,attr"`
		Channel rssChannel `xml:"channel"`
	}
	rssChannel struct {
		Title         string       `xml:"title"`
		Link          string       `xml:"link"`
		Description   string       `xml:"description"`
		Self          *rssAtomLink `xml:"atom:link"`
		Generator     string       `xml:"generator"`
		LastBuildDate string       `xml:"lastBuildDate"`
		Items         []rssItem    `xml:"item"`
	}
	rssAtomLink struct {
		Rel  string `xml:"rel,attr"`
		Type string `xml:"type,attr"`
		Href string `xml:"href,attr"`
	}
	rssItem struct {
		Title       string   `xml:"title"`
		Link        string   `xml:"link"`
		Description string   `xml:"description"`
		Categories  []string `xml:"category"`
		GUID        rssGUID  `xml:"guid"`
		PubDate     string   `xml:"pubDate"`
	}
	rssGUID struct {
		IsPermaLink bool   `xml:"isPermaLink,attr"`
		ID          string `xml:",chardata"`
	}
)

// feedItem is one incident as both feeds show it.
type feedItem struct {
	id, title, link, summary, status, impact string
	published, updated                       time.Time
}

// renderAtom renders the Atom feed of the incidents that
// /api/v2/incidents.json lists, newest first.
func (b *builder) renderAtom() ([]byte, error) {
	items, updated := b.feedItems()
	f := atomFeed{
		ID:       b.feedID(""),
		Title:    b.feedTitle(),
		Subtitle: b.feedDescription(),
		Updated:  b.ts(updated),
		Links: []atomLink{
			{Rel: "alternate", Type: "text/html", Href: b.feedLink("")},
			{Rel: "self", Type: "application/atom+xml", Href: b.feedLink(pathHistoryAtom)},
		},
		Author:    atomPerson{Name: cmp.Or(b.scrub(b.page.Name), feedGenerator)},
		Generator: feedGenerator,
		Entries:   make([]atomEntry, 0, len(items)),
	}
	for _, it := range items {
		f.Entries = append(f.Entries, atomEntry{
			ID:        it.id,
			Title:     it.title,
			Updated:   b.ts(it.updated),
			Published: b.ts(it.published),
			Link:      atomLink{Rel: "alternate", Type: "text/html", Href: it.link},
			Categories: []atomCategory{{Term: "status:" + it.status, Label: "Status: " + it.status},
				{Term: "impact:" + it.impact, Label: "Impact: " + it.impact}},
			Summary: atomText{Type: "text", Text: it.summary},
		})
	}
	return encodeFeed("atom", f)
}

// renderRSS renders the RSS 2.0 feed of the same incidents as renderAtom.
func (b *builder) renderRSS() ([]byte, error) {
	items, updated := b.feedItems()
	ch := rssChannel{
		Title:         b.feedTitle(),
		Link:          b.feedLink(""),
		Description:   b.feedDescription(),
		Generator:     feedGenerator,
		LastBuildDate: b.rfc1123(updated),
		Items:         make([]rssItem, 0, len(items)),
	}
	if b.pageURL != "" {
		// atom:link must be an absolute IRI; without a page URL it is left
		// out rather than guessed.
		ch.Self = &rssAtomLink{Rel: "self", Type: "application/rss+xml", Href: b.feedLink(pathHistoryRSS)}
	}
	for _, it := range items {
		ch.Items = append(ch.Items, rssItem{
			Title:       it.title,
			Link:        it.link,
			Description: rssHTML(it.summary),
			Categories:  []string{"status:" + it.status, "impact:" + it.impact},
			GUID:        rssGUID{IsPermaLink: false, ID: it.id},
			PubDate:     b.rfc1123(it.updated),
		})
	}
	return encodeFeed("rss", rssDoc{Version: "2.0", AtomNS: atomNamespace, Channel: ch})
}

// rssHTML turns plain text into what an RSS description holds: readers
// render it as HTML, so the text is escaped (an incident body or a probe
// message must never become markup) and line breaks are kept as <br>.
func rssHTML(text string) string {
	return strings.ReplaceAll(html.EscapeString(text), "\n", "<br>\n")
}

func encodeFeed(kind string, v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("status: render %s feed: %w", kind, err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// feedItems maps the incidents of /api/v2/incidents.json (the incidentLimit
// most recent) and returns them with the feed's updated time: the latest
// incident update, or the page's updated time when there is none. Never the
// clock: a rebuild of the same state must give the same bytes.
func (b *builder) feedItems() ([]feedItem, time.Time) {
	list := b.incidents[:min(len(b.incidents), incidentLimit)]
	items := make([]feedItem, 0, len(list))
	var updated time.Time
	for _, in := range list {
		it := b.feedItem(in)
		updated = maxTime(updated, it.updated)
		items = append(items, it)
	}
	if updated.IsZero() {
		updated = b.pageUpdatedAt()
	}
	return items, updated
}

func (b *builder) feedItem(in incident.Incident) feedItem {
	// The same fallbacks as the incident's JSON object.
	updated := in.UpdatedAt
	if updated.IsZero() {
		updated = in.CreatedAt
	}
	impact := cmp.Or(string(in.Impact), string(incident.ImpactNone))
	return feedItem{
		id:        b.feedID(in.ID),
		title:     b.scrub(in.Name),
		link:      b.incidentHref(in.ID),
		summary:   b.scrub(b.feedSummary(in, impact)),
		status:    string(in.Status),
		impact:    impact,
		published: in.CreatedAt,
		updated:   updated,
	}
}

// feedSummary is the incident as plain text: status, impact, components,
// then the timeline, newest first.
func (b *builder) feedSummary(in incident.Incident, impact string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Status: %s. Impact: %s.", in.Status, impact)
	var names []string
	for _, c := range b.componentsOf(in.Components) {
		names = append(names, c.Name)
	}
	if len(names) > 0 {
		fmt.Fprintf(&sb, "\nAffected: %s.", strings.Join(names, ", "))
	}
	if !in.StartedAt.IsZero() {
		fmt.Fprintf(&sb, "\nStarted: %s.", b.human(in.StartedAt))
	}
	if !in.ResolvedAt.IsZero() {
		fmt.Fprintf(&sb, "\nResolved: %s.", b.human(in.ResolvedAt))
	}
	// Not an open incident's "ongoing for": the feeds would change every
	// minute for nothing a reader needs from them.
	if d := lasted(in); d != "" {
		fmt.Fprintf(&sb, "\nLasted: %s.", d)
	}
	for _, u := range slices.Backward(in.Updates) {
		fmt.Fprintf(&sb, "\n\n%s - %s: %s", b.human(u.CreatedAt), u.Status, u.Body)
	}
	return sb.String()
}

// feedTitle is the title of both feeds.
func (b *builder) feedTitle() string {
	if name := b.scrub(b.page.Name); name != "" {
		return name + " incident history"
	}
	return "Incident history"
}

func (b *builder) feedDescription() string {
	if name := b.scrub(b.page.Name); name != "" {
		return "Incidents reported on " + name
	}
	return "Incidents reported on the status page"
}

// feedLink is the page URL followed by path; without a page URL it is the
// relative path, "/" for the page itself.
func (b *builder) feedLink(path string) string {
	if path == "" && b.pageURL == "" {
		return "/"
	}
	return b.pageURL + path
}

// feedID is the urn:uuid id of the feed (incidentID "") or of an entry.
func (b *builder) feedID(incidentID string) string {
	name := "tocsin:page:" + b.page.ID
	if incidentID != "" {
		name += ":incident:" + incidentID
	}
	// A name-based (version 5) UUID in RFC 9562's URL namespace: the same
	// on every build and every replica.
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(name)).URN()
}

// rfc1123 formats a time for RSS (RFC 822 with a four-digit year), in the
// page's time zone.
func (b *builder) rfc1123(t time.Time) string { return t.In(b.loc).Format(time.RFC1123Z) }
