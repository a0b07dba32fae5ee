package status

import (
	"bytes"
	"encoding/xml"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
)

// testSVG is what a test reads back from a badge.
type testSVG struct {
	XMLName xml.Name `xml:"http://www.w3.org/2000/svg svg"`
	Width   int      `xml:"width,attr"`
	Height  int      `xml:"height,attr"`
	Role    string   `xml:"role,attr"`
	Label   string   `xml:"aria-label,attr"`
	Title   string   `xml:"http://www.w3.org/2000/svg title"`
	Groups  []struct {
		Rects []struct {
			X     int    `xml:"x,attr"`
			Width int    `xml:"width,attr"`
			Fill  string `xml:"fill,attr"`
		} `xml:"http://www.w3.org/2000/svg rect"`
		Texts []struct {
			Hidden string `xml:"aria-hidden,attr"`
			Text   string `xml:",chardata"`
		} `xml:"http://www.w3.org/2000/svg text"`
	} `xml:"http://www.w3.org/2000/svg g"`
}

// badgeParts parses a badge, checks its layout and returns its label,
// message and message colour.
func badgeParts(t *testing.T, svg []byte) (label, message, color string, width int) {
	t.Helper()
	var s testSVG
	if err := xml.Unmarshal(svg, &s); err != nil {
		t.Fatalf("badge does not parse: %v\n%s", err, svg)
	}
	if len(s.Groups) != 2 || len(s.Groups[0].Rects) != 3 || len(s.Groups[1].Texts) != 4 {
		t.Fatalf("badge layout: %s", svg)
	}
	rects, texts := s.Groups[0].Rects, s.Groups[1].Texts
	if s.Height != badgeHeight || rects[0].Fill != "#555" || rects[1].X != rects[0].Width ||
		rects[0].Width+rects[1].Width != s.Width || rects[2].Fill != "url(#s)" {
		t.Errorf("badge geometry: %s", svg)
	}
	label, message = texts[1].Text, texts[3].Text
	if texts[0].Text != label || texts[2].Text != message || texts[0].Hidden != "true" || texts[1].Hidden != "" {
		t.Errorf("texts and shadows differ: %s", svg)
	}
	if want := label + ": " + message; s.Title != want || s.Label != want || s.Role != "img" {
		t.Errorf("title %q, aria-label %q, role %q; want %q", s.Title, s.Label, s.Role, want)
	}
	return label, message, rects[1].Fill, s.Width
}

func TestBadges(t *testing.T) {
	t.Parallel()
	st := incidentState()
	st.Components["db"] = incident.ComponentState{Status: detector.UnderMaintenance, UpdatedAt: t0}
	st.Components["email"] = incident.ComponentState{Status: detector.PartialOutage, UpdatedAt: t0}
	badges := preparedBuilder(t, Inputs{Config: testConfig(), State: st, Now: t0}).renderBadges()
	tests := []struct {
		path, label, message, color string
	}{
		{"/badge.svg", "status", "major outage", "#e05d44"},
		{"/badge/grp-help-desk.svg", "Help Desk", "major outage", "#e05d44"},
		{"/badge/web-app.svg", "Web App", "degraded performance", "#dfb317"},
		{"/badge/api.svg", "API", "major outage", "#e05d44"},
		{"/badge/email.svg", "Email Processing", "partial outage", "#fe7d37"},
		{"/badge/grp-data.svg", "Data", "under maintenance", "#007ec6"},
		{"/badge/db.svg", "Database", "under maintenance", "#007ec6"},
	}
	var want []string
	for _, tt := range tests {
		want = append(want, tt.path)
		t.Run(strings.TrimPrefix(tt.path, "/"), func(t *testing.T) {
			t.Parallel()
			svg, ok := badges[tt.path]
			if !ok {
				t.Fatalf("no badge at %s", tt.path)
			}
			label, message, color, _ := badgeParts(t, svg)
			if label != tt.label || message != tt.message || color != tt.color {
				t.Errorf("badge %s: %q: %q in %s, want %q: %q in %s", tt.path, label, message, color,
					tt.label, tt.message, tt.color)
			}
		})
	}
	if got := slices.Sorted(maps.Keys(badges)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("badge paths %v, want %v", got, want)
	}
}

func TestBadgeOverall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		indicator      Indicator
		message, color string
	}{
		{IndicatorNone, "operational", "#4c1"},
		{IndicatorMaintenance, "maintenance", "#007ec6"},
		{IndicatorMinor, "minor outage", "#dfb317"},
		{IndicatorMajor, "partial outage", "#fe7d37"},
		{IndicatorCritical, "major outage", "#e05d44"},
		{"unknown", "unknown", "#9f9f9f"},
	}
	for _, tt := range tests {
		t.Run(string(tt.indicator), func(t *testing.T) {
			t.Parallel()
			b := preparedBuilder(t, Inputs{Config: testConfig(), State: operationalState(), Now: t0})
			b.indicator = tt.indicator
			label, message, color, _ := badgeParts(t, b.renderBadges()[pathBadge])
			if label != "status" || message != tt.message || color != tt.color {
				t.Errorf("%q: %q in %s, want %q in %s", label, message, color, tt.message, tt.color)
			}
		})
	}
}

func TestBadgeStatusColors(t *testing.T) {
	t.Parallel()
	want := map[detector.ComponentStatus]string{
		detector.Operational: "#4c1", detector.DegradedPerformance: "#dfb317", detector.PartialOutage: "#fe7d37",
		detector.MajorOutage: "#e05d44", detector.UnderMaintenance: "#007ec6", "bogus": "#9f9f9f",
	}
	for _, s := range detector.ComponentStatuses() {
		if _, ok := want[s]; !ok {
			t.Errorf("status %q has no colour in this test", s)
		}
	}
	for s, c := range want {
		if got := statusColor(s); got != c {
			t.Errorf("statusColor(%q) = %s, want %s", s, got, c)
		}
	}
}

func TestBadgeWidthGrowsWithText(t *testing.T) {
	t.Parallel()
	var last int
	for _, msg := range []string{"", "i", "ok", "okay", "operational", "degraded performance", "MMMMMMMMMMMMMMMMMMMMMM"} {
		_, _, _, w := badgeParts(t, badgeSVG("status", msg, badgeGreen))
		if w <= last {
			t.Errorf("message %q: width %d, not more than %d", msg, w, last)
		}
		last = w
	}
	// Verdana 11px, as shields.io measures it: "build" is 27px; "status" a
	// little wider; non-ASCII text gets a width too.
	for s, want := range map[string]int{"build": 27, "status": 34, "": 0, "ééé": 32} {
		if got := textWidth(s); got != want {
			t.Errorf("textWidth(%q) = %d, want %d", s, got, want)
		}
	}
	for i, w := range verdana11 {
		if w < 2 || w > 12 {
			t.Errorf("width of %q: %v", rune(' '+i), w)
		}
	}
}

func TestBadgeEscapes(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	hostile := `<script>alert("x")</script> & 'co' canarysecret` + "\x00"
	cfg.Components[1].Name = hostile
	b := preparedBuilder(t, Inputs{Config: cfg, State: operationalState(), Now: t0}, "canarysecret")
	svg := b.renderBadges()["/badge/email.svg"]
	for _, bad := range []string{"<script>", "canarysecret", "\x00", `"x"`} {
		if bytes.Contains(svg, []byte(bad)) {
			t.Errorf("badge contains %q: %s", bad, svg)
		}
	}
	label, message, _, _ := badgeParts(t, svg)
	if want := `<script>alert("x")</script> & 'co' <redacted>` + "\uFFFD"; label != want || message != "operational" {
		t.Errorf("label %q message %q, want %q", label, message, want)
	}
}

// TestBadgesAreDeterministic: rebuilding the same state later gives the
// same bytes.
func TestBadgesAreDeterministic(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios() {
		later := sc.in
		later.Now = later.Now.Add(time.Minute)
		a := preparedBuilder(t, sc.in).renderBadges()
		b := preparedBuilder(t, later).renderBadges()
		if !maps.EqualFunc(a, b, bytes.Equal) {
			t.Errorf("%s: two builds differ", sc.name)
		}
	}
}
