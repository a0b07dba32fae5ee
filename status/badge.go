package status

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"

	"github.com/tocsin/tocsin/detector"
)

// Paths and content type of the status badges: /badge.svg for the page and
// /badge/<component-id>.svg for each component and group.
const (
	pathBadge       = "/badge.svg"
	pathBadgePrefix = "/badge/"
	badgeSuffix     = ".svg"
	contentTypeSVG  = "image/svg+xml"
	badgeLabel      = "status"
)

// Badge colours, shields.io's named ones.
const (
	badgeGreen  = "#4c1"    // brightgreen
	badgeYellow = "#dfb317" // yellow
	badgeOrange = "#fe7d37" // orange
	badgeRed    = "#e05d44" // red
	badgeBlue   = "#007ec6" // blue
	badgeGrey   = "#9f9f9f" // lightgrey
)

// Badge geometry, as shields.io's "flat" style: 20px high, text 11px with
// 5px of padding on each side.
const (
	badgePadding = 5
	badgeHeight  = 20
)

// renderBadges renders every badge, keyed by path.
func (b *builder) renderBadges() map[string][]byte {
	out := make(map[string][]byte, len(b.components)+1)
	msg, color := indicatorBadge(b.indicator)
	out[pathBadge] = badgeSVG(badgeLabel, msg, color)
	for _, c := range b.components {
		out[pathBadgePrefix+c.ID+badgeSuffix] = badgeSVG(b.scrub(c.Name), c.Status.Label(), statusColor(c.Status))
	}
	return out
}

// indicatorBadge is the overall badge's message and colour: the indicator
// description, shortened to fit.
func indicatorBadge(i Indicator) (message, color string) {
	switch i {
	case IndicatorNone:
		return "operational", badgeGreen
	case IndicatorMaintenance:
		return "maintenance", badgeBlue
	case IndicatorMinor:
		return "minor outage", badgeYellow
	case IndicatorMajor:
		return "partial outage", badgeOrange
	case IndicatorCritical:
		return "major outage", badgeRed
	}
	return string(i), badgeGrey
}

// statusColor is a component badge's colour.
func statusColor(s detector.ComponentStatus) string {
	switch s {
	case detector.Operational:
		return badgeGreen
	case detector.UnderMaintenance:
		return badgeBlue
	case detector.DegradedPerformance:
		return badgeYellow
	case detector.PartialOutage:
		return badgeOrange
	case detector.MajorOutage:
		return badgeRed
	}
	return badgeGrey
}

// badgeSVG draws a badge in shields.io's "flat" style: a grey label and a
// coloured message in a rounded box with a light gradient, text with a 1px
// shadow. Text is drawn at 10x and scaled down, as shields.io does, so that
// positions stay whole numbers.
func badgeSVG(label, message, color string) []byte {
	lt, mt := textWidth(label), textWidth(message)
	lw, mw := lt+2*badgePadding, mt+2*badgePadding
	w := lw + mw
	// Centres in tenths of a pixel; shields.io nudges the label 1px right
	// and the message 1px left.
	lx := 10*badgePadding + 5*lt + 10
	mx := 10*lw + 10*badgePadding + 5*mt - 10
	l, m, title := esc(label), esc(message), esc(label+": "+message)

	var buf bytes.Buffer
	fmt.Fprintf(&buf, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="%s">`,
		w, badgeHeight, title)
	fmt.Fprintf(&buf, `<title>%s</title>`, title)
	buf.WriteString(`<linearGradient id="s" x2="0" y2="100%">` +
		`<stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`)
	fmt.Fprintf(&buf, `<clipPath id="r"><rect width="%d" height="%d" rx="3" fill="#fff"/></clipPath>`, w, badgeHeight)
	fmt.Fprintf(&buf, `<g clip-path="url(#r)"><rect width="%d" height="%d" fill="#555"/>`, lw, badgeHeight)
	fmt.Fprintf(&buf, `<rect x="%d" width="%d" height="%d" fill="%s"/>`, lw, mw, badgeHeight, esc(color))
	fmt.Fprintf(&buf, `<rect width="%d" height="%d" fill="url(#s)"/></g>`, w, badgeHeight)
	buf.WriteString(`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" ` +
		`text-rendering="geometricPrecision" font-size="110">`)
	badgeText(&buf, lx, 10*lt, l)
	badgeText(&buf, mx, 10*mt, m)
	buf.WriteString("</g></svg>\n")
	return buf.Bytes()
}

// badgeText writes one text with its shadow; text is already escaped.
func badgeText(buf *bytes.Buffer, x, length int, text string) {
	fmt.Fprintf(buf, `<text aria-hidden="true" x="%d" y="150" fill="#010101" fill-opacity=".3" `+
		`transform="scale(.1)" textLength="%d">%s</text>`, x, length, text)
	fmt.Fprintf(buf, `<text x="%d" y="140" transform="scale(.1)" fill="#fff" textLength="%d">%s</text>`,
		x, length, text)
}

// esc escapes s for XML text and attribute values. Characters XML cannot
// hold become U+FFFD.
func esc(s string) string {
	var buf bytes.Buffer
	_ = xml.EscapeText(&buf, []byte(s)) // a bytes.Buffer never fails
	return buf.String()
}

// verdana11 holds the advance widths, in pixels, of Verdana at 11px for
// ASCII ' ' to '~' (the font's units per em scaled to 11px).
var verdana11 = [0x7f - ' ']float64{
	3.87, 4.33, 5.05, 9.00, 6.99, 11.84, 7.99, 2.95, 4.99, 4.99, 6.99, 9.00, 4.00, 4.99, 4.00, 4.99, // space to /
	6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 4.99, 4.99, 9.00, 9.00, 9.00, 5.99, // 0 to ?
	11.00, 7.52, 7.54, 7.68, 8.48, 6.96, 6.32, 8.53, 8.27, 4.63, 5.00, 7.62, 6.12, 9.27, 8.23, 8.66, // @ to O
	6.63, 8.66, 7.65, 7.52, 6.78, 8.05, 7.52, 10.87, 7.54, 6.77, 7.54, 4.99, 4.99, 4.99, 9.00, 6.99, // P to _
	6.99, 6.61, 6.85, 5.73, 6.85, 6.55, 3.87, 6.85, 6.96, 3.02, 3.79, 6.51, 3.02, 10.71, 6.96, 6.68, // ` to o
	6.85, 6.85, 4.69, 5.73, 4.33, 6.96, 6.51, 8.98, 6.51, 6.51, 5.78, 6.98, 4.99, 6.98, 9.00, // p to ~
}

// verdanaDefault is the width assumed for any other character: that of 'm'.
// Overestimating only spaces the glyphs out (textLength stretches the text
// to its box); underestimating would squeeze them together.
const verdanaDefault = 10.71

// textWidth estimates the width of s in Verdana 11px, in whole pixels.
func textWidth(s string) int {
	var w float64
	for _, r := range s {
		if i := int(r) - ' '; i >= 0 && i < len(verdana11) {
			w += verdana11[i]
		} else {
			w += verdanaDefault
		}
	}
	return int(math.Round(w))
}
