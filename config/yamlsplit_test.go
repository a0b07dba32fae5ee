package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// splitAsUnmarshal: whenever parseSplit takes a document, it gives what
// yaml.Unmarshal gives the whole; a document yaml.Unmarshal rejects it
// never takes.
func splitAsUnmarshal(t *testing.T, doc string, perPart int) bool {
	t.Helper()
	var want map[string]any
	werr := yaml.Unmarshal([]byte(doc), &want)
	got, ok := parseSplit([]byte(doc), 1, perPart, 2)
	if !ok {
		return false
	}
	if werr != nil {
		t.Fatalf("parseSplit took a document yaml.Unmarshal rejects (%v):\n%s", werr, doc)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseSplit differs:\n got %#v\nwant %#v\n%s", got, want, doc)
	}
	return true
}

// TestParseSplit: documents parseSplit cuts in parts give what a whole
// parse gives; the ones it must not cut it leaves whole.
func TestParseSplit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, doc string
		split     bool
	}{
		{"flow items", "page: {name: A}\nchecks:\n  - {name: a, type: http}\n  - {name: b, type: tcp}\n  - {name: c}\ncomponents: []\n", true},
		{"block items", "checks:\n- name: a\n  http:\n    url: x\n- name: b\n  tcp: {address: 'h:1'}\nlog: {level: info}\n", true},
		{"comments and blanks", "checks:\n  # first\n  - {name: a}\n\n# at the top\n  - {name: b}\n  # last\nother: 1\n", true},
		{"block scalar", "checks:\n  - name: a\n    body: |\n      - not an item\n      more\n  - name: b\n", true},
		{"nested lists", "checks:\n  - name: a\n    expect: [200, 201]\n    list:\n      - x\n      - y\n  - name: b\n", true},
		{"dash alone", "checks:\n  -\n    name: a\n  - {name: b}\n", true},
		{"multi-line flow", "checks:\n  - {name: a,\n     type: http}\n  - {name: b}\n", true},
		{"quoted continuation", "checks:\n  - name: \"a\n    b\"\n  - {name: c}\n", true},
		{"at the end", "page: {name: A}\nchecks:\n  - {name: a}\n  - {name: b}", true},
		{"anchor", "checks:\n  - &a {name: a}\n  - {name: b}\n", false},
		{"alias", "defaults: &d {x: 1}\nchecks:\n  - {<<: *d, name: b}\n", false},
		{"two documents", "checks:\n  - {name: a}\n---\nb: 1\n", false},
		{"two headers", "checks:\n  - {name: a}\nchecks:\n  - {name: b}\n", false},
		{"flow list", "checks: [{name: a}, {name: b}]\n", false},
		{"CRLF", "checks:\r\n  - {name: a}\r\n  - {name: b}\r\n", false},
		{"broken item", "checks:\n  - {name: a\n  - {name: b}\n", false},
		{"not a list", "checks:\n  name: a\n", false},
		{"key at the items' indentation", "checks:\n  - {name: a}\n  oops: 1\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for per := 1; per <= 2; per++ {
				if got := splitAsUnmarshal(t, tc.doc, per); got != tc.split {
					t.Errorf("%d items a part: split %v, want %v", per, got, tc.split)
				}
			}
		})
	}
}

// TestParseSplitLarge: a config large enough to be cut is, and loads as
// it would whole.
func TestParseSplitLarge(t *testing.T) {
	t.Parallel()
	var sb strings.Builder
	sb.WriteString("components:\n  - {id: c, name: C}\nchecks:\n")
	for i := range splitMinItems + 1 {
		fmt.Fprintf(&sb, "  - {name: k%d, component: c, type: tcp, tcp: {address: \"127.0.0.1:%d\"}}\n", i, 1+i%60000)
	}
	if !splitAsUnmarshal(t, sb.String(), splitPartItems) {
		t.Fatal("not split")
	}
	if _, ok := parseSplit([]byte(sb.String()), splitMinItems, splitPartItems, 2); !ok {
		t.Error("parseYAML would not split a list of splitMinItems items")
	}
	cfg, err := Load(LoadOptions{File: writeConfig(t, sb.String())})
	if err != nil || len(cfg.Checks) != splitMinItems+1 || cfg.Checks[splitMinItems].Name != fmt.Sprintf("k%d", splitMinItems) {
		t.Fatalf("Load: %v", err)
	}
}

// FuzzParseSplit: for any document, a split parse is the whole parse.
func FuzzParseSplit(f *testing.F) {
	for _, s := range []string{
		"checks:\n  - {name: a}\n  - {name: b}\n",
		"checks:\n- name: a\n  x: |\n    - y\n- b\nz: 1\n",
		"a: 1\nchecks:\n  # c\n  - [1, 2]\n  -\n    k: v\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		splitAsUnmarshal(t, doc, 1)
		splitAsUnmarshal(t, doc, 2)
	})
}
