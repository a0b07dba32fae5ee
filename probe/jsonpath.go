package probe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// The json_path syntax and lookup that http.body_json (httpjson_assert.go)
// and a queue's http_json source (probe/queue/httpjson.go) share, so that
// one path means the same in both.

// DecodeJSON decodes exactly one JSON value, keeping numbers as json.Number
// so that large integers are not rounded before they are needed.
func DecodeJSON(b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("empty body")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

// ParseJSONPath splits a json_path into its keys and indices.
//
// The syntax: keys separated by dots, "queues.mail.depth". A key of decimal
// digits indexes an array (from 0) when the value there is an array, and is
// an ordinary key in an object: "items.0.size". A dot inside a key is
// written "\." and a backslash "\\": "hosts.mx1\.example\.com.queued". No
// other escapes exist, and keys must not be empty. The empty path selects
// the whole document, for an endpoint that answers a bare number.
func ParseJSONPath(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	var (
		segs []string
		cur  strings.Builder
	)
	for i := 0; i < len(path); i++ {
		switch c := path[i]; c {
		case '\\':
			if i+1 == len(path) || (path[i+1] != '.' && path[i+1] != '\\') {
				return nil, fmt.Errorf(`invalid escape at byte %d: only \. and \\ are allowed`, i)
			}
			i++
			cur.WriteByte(path[i])
		case '.':
			if cur.Len() == 0 {
				return nil, fmt.Errorf("empty key at byte %d", i)
			}
			segs = append(segs, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() == 0 {
		return nil, errors.New("empty key at the end")
	}
	return append(segs, cur.String()), nil
}

// formatJSONPath is the inverse of ParseJSONPath.
func formatJSONPath(segs []string) string {
	esc := strings.NewReplacer(`\`, `\\`, `.`, `\.`)
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = esc.Replace(s)
	}
	return strings.Join(out, ".")
}

// JSONPathNumber follows path through doc, a value decoded by DecodeJSON,
// and returns the finite number there: a JSON number or a string holding
// one ("42"). Errors say where the path broke off.
func JSONPathNumber(doc any, path []string) (float64, error) {
	v, err := jsonPathValue(doc, path)
	if err != nil {
		return 0, err
	}
	return jsonNumber(v, location(path))
}

// jsonPathValue follows path through doc and returns the value there.
// Errors say where the path broke off.
func jsonPathValue(doc any, path []string) (any, error) {
	v := doc
	for i, seg := range path {
		at := location(path[:i])
		switch node := v.(type) {
		case map[string]any:
			next, ok := node[seg]
			if !ok {
				return nil, fmt.Errorf("no key %q in the object %s", seg, at)
			}
			v = next
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || strconv.Itoa(n) != seg {
				return nil, fmt.Errorf("%q is not an index into the array %s", seg, at)
			}
			if n >= len(node) {
				return nil, fmt.Errorf("index %d is out of range: the array %s has %d elements", n, at, len(node))
			}
			v = node[n]
		default:
			return nil, fmt.Errorf("cannot look up %q in %s %s", seg, jsonKind(v), at)
		}
	}
	return v, nil
}

// jsonNumber converts a leaf to a finite float64.
func jsonNumber(v any, at string) (float64, error) {
	var text string
	switch x := v.(type) {
	case json.Number:
		text = string(x)
	case string:
		text = strings.TrimSpace(x)
		// The JSON grammar, not ParseFloat's: no "NaN", "Inf", "0x1p3", "1_000".
		if text == "" || !json.Valid([]byte(text)) || (text[0] != '-' && (text[0] < '0' || text[0] > '9')) {
			return 0, fmt.Errorf("the value %s is a string (%q) that is not a number", at, ClipTo(x, 40))
		}
	default:
		return 0, fmt.Errorf("the value %s is %s, not a number", at, jsonKind(v))
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("the number %s (%s) is out of range", at, ClipTo(text, 40))
	}
	return f, nil
}

// location names a position in the document for messages.
func location(prefix []string) string {
	if len(prefix) == 0 {
		return "at the top level"
	}
	return fmt.Sprintf("at %q", formatJSONPath(prefix))
}

// jsonKind names the JSON type of v with its article.
func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("a %T", v)
}

// ClipTo shortens s to at most n bytes without splitting a UTF-8 sequence.
func ClipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// FormatNumber prints a depth for messages: 42, 1.5, 1e+21.
func FormatNumber(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}
