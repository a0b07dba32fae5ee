package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// sameAsUnmarshal fails t unless parseYAML gives what yaml.Unmarshal into
// a map gives (koanf's YAML parser), an error where it errs.
func sameAsUnmarshal(t *testing.T, b []byte) {
	t.Helper()
	var want map[string]any
	werr := yaml.Unmarshal(b, &want)
	got, gerr := parseYAML(b)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("yaml.Unmarshal: %v; parseYAML: %v", werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Errorf("parseYAML differs:\n got %#v\nwant %#v", got, want)
	}
}

// TestParseYAMLAsUnmarshal: the testdata configs and the shapes parseYAML
// takes apart or hands back parse as yaml.Unmarshal parses them.
func TestParseYAMLAsUnmarshal(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.yml"))
	if err != nil || len(files) < 20 {
		t.Fatalf("testdata: %d files, %v", len(files), err)
	}
	cases := map[string]string{
		"empty":               "",
		"comment only":        "# nothing\n",
		"not a mapping":       "- a\n- b\n",
		"null list":           "checks:\n",
		"empty list":          "checks: []\n",
		"null item":           "checks:\n  - \n  - {name: a}\n",
		"anchor across":       "checks:\n  - &base {type: http, interval: 30s}\n  - {<<: *base, name: b}\n",
		"top merge":           "defaults: &d {interval: 30s}\n<<: *d\n",
		"top alias":           "a: &x [1, 2]\nb: *x\n",
		"list aliased later":  "components: &c [{id: web, name: Web}]\nextra: {again: *c}\n",
		"list aliased within": "components: &c [{id: web}, {id: api, x: *c}]\n",
		"item aliased later":  "checks:\n  - &a {name: a}\n  - {name: b, copy: *a}\nother: *a\n",
		"duplicate key":       "checks: []\nchecks: []\n",
		"non-string key":      "1: a\n",
		"bad item":            "checks:\n  - {a: [}\n",
		"two documents":       "a: 1\n---\nb: 2\n",
		"nested list items":   "checks:\n  - [1, [2, 3]]\n",
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		cases[filepath.Base(file)] = string(b)
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sameAsUnmarshal(t, []byte(doc))
		})
	}
}
