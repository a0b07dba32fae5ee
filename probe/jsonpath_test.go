package probe

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestJSONPathParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path    string
		want    []string
		wantErr string
	}{
		{path: "", want: nil},
		{path: "depth", want: []string{"depth"}},
		{path: "queues.mail.depth", want: []string{"queues", "mail", "depth"}},
		{path: "items.0.size", want: []string{"items", "0", "size"}},
		{path: `hosts.mx1\.example\.com.queued`, want: []string{"hosts", "mx1.example.com", "queued"}},
		{path: `back\\slash.x`, want: []string{`back\slash`, "x"}},
		{path: `a\\.b`, want: []string{`a\`, "b"}},
		{path: "ünï.cödé", want: []string{"ünï", "cödé"}},
		{path: ".a", wantErr: "empty key at byte 0"},
		{path: "a.", wantErr: "empty key at the end"},
		{path: "a..b", wantErr: "empty key at byte 2"},
		{path: `a\`, wantErr: "invalid escape at byte 1"},
		{path: `a\n`, wantErr: "invalid escape at byte 1"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			got, err := ParseJSONPath(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseJSONPath(%q) = %q, %v; want error %q", tt.path, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("ParseJSONPath(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
			}
			if back := formatJSONPath(got); back != tt.path {
				t.Errorf("formatJSONPath(%q) = %q, want %q", got, back, tt.path)
			}
		})
	}
}

func TestJSONPathNumber(t *testing.T) {
	t.Parallel()
	const doc = `{"a": {"b": [10, {"c": "7.5"}, true, null, "1e3", " -4 ", "0x10", "NaN", "", 1e400]},
		"0": {"x": 1}, "big": 12345678901234567890}`
	tests := []struct {
		path    string
		want    float64
		wantErr string
	}{
		{path: "a.b.0", want: 10},
		{path: "a.b.1.c", want: 7.5},
		{path: "a.b.4", want: 1000},
		{path: "a.b.5", want: -4},
		{path: "0.x", want: 1}, // a digit key in an object is a key
		{path: "big", want: 12345678901234567890},
		{path: "a.b.2", wantErr: `the value at "a.b.2" is a boolean, not a number`},
		{path: "a.b.3", wantErr: `the value at "a.b.3" is null, not a number`},
		{path: "a.b.6", wantErr: `is a string ("0x10") that is not a number`},
		{path: "a.b.7", wantErr: `is a string ("NaN") that is not a number`},
		{path: "a.b.8", wantErr: `is a string ("") that is not a number`},
		{path: "a.b.9", wantErr: `the number at "a.b.9" (1e400) is out of range`},
		{path: "a.b.10", wantErr: `index 10 is out of range: the array at "a.b" has 10 elements`},
		{path: "a.b.01", wantErr: `"01" is not an index into the array at "a.b"`},
		{path: "a.b.-1", wantErr: `"-1" is not an index into the array at "a.b"`},
		{path: "a.b.x", wantErr: `"x" is not an index into the array at "a.b"`},
		{path: "a.b.0.c", wantErr: `cannot look up "c" in a number at "a.b.0"`},
		{path: "nope", wantErr: `no key "nope" in the object at the top level`},
		{path: "", wantErr: `the value at the top level is an object, not a number`},
	}
	v, err := DecodeJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			path, err := ParseJSONPath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := JSONPathNumber(v, path)
			if tt.wantErr != "" {
				if err == nil || err.Error() != strings.TrimSpace(err.Error()) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("JSONPathNumber(%q) = %v, %v; want error %q", tt.path, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("JSONPathNumber(%q) = %v, %v; want %v", tt.path, got, err, tt.want)
			}
		})
	}
}

// FuzzJSONPath checks that path parsing and evaluation never panic, that a
// parsed path prints back to a path that parses the same, and that a number
// found is finite.
func FuzzJSONPath(f *testing.F) {
	for _, s := range []struct{ doc, path string }{
		{`{"queues": {"mail": {"depth": 12}}}`, "queues.mail.depth"},
		{`{"items": [{"size": 3}]}`, "items.0.size"},
		{`{"a.b": {"c": "42"}}`, `a\.b.c`},
		{`7`, ""},
		{`[1, 2]`, "01"},
		{`{"x": 1e999}`, "x"},
		{`{"x": "NaN"}`, "x"},
		{`{"x": 1`, "x"},
		{`{"\\": 1}`, `\\`},
	} {
		f.Add([]byte(s.doc), s.path)
	}
	f.Fuzz(func(t *testing.T, doc []byte, path string) {
		segs, err := ParseJSONPath(path)
		if err != nil {
			return
		}
		again, err := ParseJSONPath(formatJSONPath(segs))
		if err != nil || !slices.Equal(again, segs) {
			t.Fatalf("path %q parsed to %q, printed as %q, parsed again to %q, %v",
				path, segs, formatJSONPath(segs), again, err)
		}
		for _, s := range segs {
			if s == "" {
				t.Fatalf("path %q has an empty key", path)
			}
		}
		v, err := DecodeJSON(doc)
		if err != nil {
			return
		}
		n, err := JSONPathNumber(v, segs)
		if err == nil && (math.IsNaN(n) || math.IsInf(n, 0)) {
			t.Fatalf("path %q in %q gave %v", path, doc, n)
		}
	})
}
