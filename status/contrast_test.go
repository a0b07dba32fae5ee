package status

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestPageContrast: every text colour of the page meets WCAG 2.1 AA (4.5:1)
// against the background it is drawn on, in the light and the dark scheme.
func TestPageContrast(t *testing.T) {
	t.Parallel()
	dark := pageTemplateText[strings.Index(pageTemplateText, "prefers-color-scheme:dark"):]
	schemes := map[string]map[string]string{"light": cssVars(pageTemplateText), "dark": cssVars(pageTemplateText)}
	for k, v := range cssVars(dark) {
		schemes["dark"][k] = v
	}
	for name, vars := range schemes {
		pairs := [][2]string{{"fg", "bg"}, {"muted", "bg"}, {"fg", "card"}, {"muted", "card"}}
		for _, st := range []string{"t-ok", "t-minor", "t-major", "t-critical", "t-maint"} {
			pairs = append(pairs, [2]string{st, "bg"})
		}
		for _, p := range pairs {
			if r := contrast(vars[p[0]], vars[p[1]]); r < 4.5 {
				t.Errorf("%s: --%s on --%s contrast %.2f, want >= 4.5", name, p[0], p[1], r)
			}
		}
		// The banner's white text on each status colour, and on the calm one
		// after a recovery.
		for _, bg := range []string{"ok", "minor", "major", "critical", "maint", "watch"} {
			if r := contrast("#ffffff", vars[bg]); r < 4.5 {
				t.Errorf("%s: banner text on --%s contrast %.2f, want >= 4.5", name, bg, r)
			}
		}
		// Tooltips swap foreground and background.
		if r := contrast(vars["bg"], vars["fg"]); r < 4.5 {
			t.Errorf("%s: tooltip contrast %.2f", name, r)
		}
	}
}

var cssVarRE = regexp.MustCompile(`--([a-z-]+):(#[0-9a-f]{6})`)

// cssVars returns the first definition of each custom property in css.
func cssVars(css string) map[string]string {
	out := map[string]string{}
	for _, m := range cssVarRE.FindAllStringSubmatch(css, -1) {
		if _, ok := out[m[1]]; !ok {
			out[m[1]] = m[2]
		}
	}
	return out
}

// contrast is the WCAG contrast ratio of two #rrggbb colours; 0 if either
// is missing.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < 0 || lb < 0 {
		return 0
	}
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func luminance(hex string) float64 {
	if len(hex) != 7 {
		return -1
	}
	var c [3]float64
	for i := range c {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		if err != nil {
			return -1
		}
		s := float64(v) / 255
		if s <= 0.03928 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}
