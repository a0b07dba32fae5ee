package config

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// walker checks a raw configuration map against the Config type through its
// koanf tags, records every unknown key and every value of the wrong type
// with its key path, and normalises the values it accepts (digit strings to
// integers, "30s" to a Duration, timestamps to RFC 3339 strings) so that the
// decoder cannot read them differently. What it rejects it removes from the
// map, so that the rest can still be decoded and validated: one run lists
// every problem (docs/configuration.md, tocsin validate), not only the first stage's.
type walker struct {
	probs *problems
	// fields caches fieldsByKey by type: a config of 50,000 checks has as
	// many check objects of one type.
	fields map[reflect.Type]map[string]field
}

// fieldsOf is fieldsByKey(t), computed once per type and walk.
func (w walker) fieldsOf(t reflect.Type) map[string]field {
	if w.fields == nil {
		return fieldsByKey(t)
	}
	f, ok := w.fields[t]
	if !ok {
		f = fieldsByKey(t)
		w.fields[t] = f
	}
	return f
}

// walk checks v against t and returns the normalised value, or false if v
// was rejected (its problem recorded): the caller then drops it.
func (w walker) walk(path string, t reflect.Type, v any) (any, bool) {
	if isScalar(t) {
		out, msg := scalarValue(t, v)
		if msg != "" {
			w.probs.add(path, msg)
			return nil, false
		}
		return out, true
	}
	switch t.Kind() {
	case reflect.Pointer:
		return w.walk(path, t.Elem(), v)
	case reflect.Struct:
		return w.object(path, t, v)
	case reflect.Slice:
		return w.list(path, t, v)
	case reflect.Map:
		return w.dict(path, t, v)
	}
	w.probs.addf(path, "unsupported field type %s", t)
	return nil, false
}

// object checks a mapping against the fields of struct type t. Unknown keys
// and rejected values are deleted, leaving those fields at their zero value:
// the rules of Validate take zero for unset, and what they would say about
// it is dropped (problems.without), as it would only repeat the problem.
func (w walker) object(path string, t reflect.Type, v any) (any, bool) {
	m, ok := asMap(v)
	if !ok {
		w.probs.add(path, "must be a mapping")
		return nil, false
	}
	fields := w.fieldsOf(t)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		f, ok := fields[k]
		if !ok {
			w.probs.add(joinPath(path, k), "unknown key"+didYouMean(k, fields))
			delete(m, k)
			continue
		}
		if m[k] == nil {
			delete(m, k)
			continue
		}
		if out, ok := w.walkField(joinPath(path, k), k, f, m[k]); ok {
			m[k] = out
		} else {
			delete(m, k)
		}
	}
	return m, true
}

// list checks a sequence against slice type t. A rejected item becomes
// null (a zero value), so that the items after it keep their index and
// their problems the key path the user sees.
func (w walker) list(path string, t reflect.Type, v any) (any, bool) {
	items, ok := v.([]any)
	if !ok {
		w.probs.add(path, "must be a list")
		return nil, false
	}
	for i, item := range items {
		out, ok := w.walk(fmt.Sprintf("%s[%d]", path, i), t.Elem(), item)
		if !ok {
			out = nil
		}
		items[i] = out
	}
	return items, true
}

// dict checks a mapping with arbitrary keys against map type t.
func (w walker) dict(path string, t reflect.Type, v any) (any, bool) {
	m, ok := asMap(v)
	if !ok {
		w.probs.add(path, "must be a mapping")
		return nil, false
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if out, ok := w.walk(joinPath(path, k), t.Elem(), m[k]); ok {
			m[k] = out
		} else {
			delete(m, k)
		}
	}
	return m, true
}

// field is a struct field as seen through its koanf tag.
type field struct {
	index int
	typ   reflect.Type
	// zero, from the tag zero:"word" of an integer field, is the word the
	// file writes for the field's zero value (quorum: majority); see
	// countOrWord.
	zero string
}

// fieldsByKey maps the koanf keys of struct type t to its fields.
func fieldsByKey(t reflect.Type) map[string]field {
	out := make(map[string]field, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
		if !f.IsExported() || key == "" || key == "-" {
			continue
		}
		out[key] = field{index: i, typ: f.Type, zero: f.Tag.Get("zero")}
	}
	return out
}

// asMap returns v as a map with string keys. YAML mappings with keys that
// are not strings come as map[any]any; their keys are stringified.
func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[fmt.Sprint(k)] = e
		}
		return out, true
	}
	return nil, false
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// envTarget returns the field of the key an environment variable names, or
// a problem. Lists and maps cannot be reached from the environment.
func envTarget(segs []string) (field, string) {
	key := strings.Join(segs, ".")
	t := reflect.TypeFor[Config]()
	var last field
	for i, s := range segs {
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case t.Kind() == reflect.Slice || t.Kind() == reflect.Map:
			return field{}, fmt.Sprintf("key %q cannot be set from the environment", key)
		case t.Kind() != reflect.Struct || isScalar(t):
			return field{}, fmt.Sprintf("unknown key %q", key)
		}
		fields := fieldsByKey(t)
		f, ok := fields[s]
		if !ok {
			msg := fmt.Sprintf("unknown key %q", key)
			if k := closest(s, fields); k != "" {
				fixed := slices.Clone(segs)
				fixed[i] = k
				msg += fmt.Sprintf(" (did you mean %q?)", strings.Join(fixed, "."))
			}
			return field{}, msg
		}
		t, last = f.typ, f
	}
	if isScalar(t) || isStringList(t) {
		return last, ""
	}
	return field{}, fmt.Sprintf("key %q cannot be set from the environment", key)
}

// envValue checks and normalises an environment value for field f, at key
// k. A list of strings is written comma-separated.
func envValue(k string, f field, s string) (any, string) {
	if f.zero != "" {
		// Checked here for the env variable's name in the problem, but
		// left as written: the walker reads the merged value again, and
		// would refuse a 0 that stood for the word.
		if _, msg := countOrWord(k, f, s); msg != "" {
			return nil, msg
		}
		return s, ""
	}
	if !isStringList(f.typ) {
		return scalarValue(f.typ, s)
	}
	items := []any{}
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items, ""
}

func isStringList(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String
}

// isScalar reports whether t is decoded from a single YAML scalar.
func isScalar(t reflect.Type) bool {
	if t == reflect.TypeFor[time.Duration]() || t == reflect.TypeFor[time.Time]() {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16,
		reflect.Int32, reflect.Int64, reflect.Float64:
		return true
	}
	return false
}

// scalarValue checks v for scalar type t and returns it normalised, or a
// problem. Problems quote the value only for types that do not hold secrets.
func scalarValue(t reflect.Type, v any) (any, string) {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return durationValue(v)
	case t == reflect.TypeFor[time.Time]():
		return timeValue(v)
	case t.Kind() == reflect.String:
		return stringValue(v)
	case t.Kind() == reflect.Bool:
		return boolValue(v)
	case t.Kind() == reflect.Float64:
		return floatValue(v)
	}
	return intValue(v, t.Bits())
}

// floatValue accepts numbers and numeric strings (environment values are
// strings); NaN and infinities are rejected.
func floatValue(v any) (any, string) {
	const msg = "must be a number"
	f, ok := v.(float64)
	if n, isInt := integer(v); isInt {
		f, ok = float64(n), true
	}
	if s, isStr := v.(string); isStr {
		p, err := strconv.ParseFloat(s, 64)
		f, ok = p, err == nil
	}
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, msg
	}
	return f, ""
}

func stringValue(v any) (any, string) {
	switch x := v.(type) {
	case string:
		return x, ""
	case bool:
		return strconv.FormatBool(x), ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), ""
	case time.Time:
		return x.Format(time.RFC3339Nano), ""
	}
	if n, ok := integer(v); ok {
		return strconv.FormatInt(n, 10), ""
	}
	return nil, "must be a string"
}

func boolValue(v any) (any, string) {
	switch x := v.(type) {
	case bool:
		return x, ""
	case string:
		if b, err := strconv.ParseBool(x); err == nil {
			return b, ""
		}
	}
	return nil, "must be true or false"
}

// intValue accepts integers, floats without a fraction and strings of
// digits (environment values are strings).
func intValue(v any, bits int) (any, string) {
	const msg = "must be an integer"
	n, ok := integer(v)
	switch x := v.(type) {
	case float64:
		ok = x == math.Trunc(x) && x >= -(1<<63) && x < 1<<63
		n = int64(x)
	case string:
		p, err := strconv.ParseInt(x, 10, 64)
		ok, n = err == nil, p
	}
	if !ok {
		return nil, msg
	}
	if bits < 64 && (n < -(1<<(bits-1)) || n >= 1<<(bits-1)) {
		return nil, fmt.Sprintf("%d is out of range", n)
	}
	return n, ""
}

// integer returns v as an int64 if it is of an integer kind and fits.
func integer(v any) (int64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if u := rv.Uint(); u <= math.MaxInt64 {
			return int64(u), true
		}
	}
	return 0, false
}

// durationValue accepts Go duration strings ("250ms", "1m30s"), and 0. Any
// other bare number is rejected: its unit would be a guess.
func durationValue(v any) (any, string) {
	switch x := v.(type) {
	case time.Duration:
		return x, ""
	case string:
		d, err := time.ParseDuration(x)
		if err == nil {
			return d, ""
		}
		if isPlainNumber(x) {
			return nil, fmt.Sprintf("invalid duration %q: missing unit (e.g. %q)", x, x+"s")
		}
		return nil, fmt.Sprintf("invalid duration %q", x)
	case float64:
		if x == 0 {
			return time.Duration(0), ""
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		return nil, fmt.Sprintf("invalid duration %s: missing unit (e.g. %q)", s, s+"s")
	}
	if n, ok := integer(v); ok {
		if n == 0 {
			return time.Duration(0), ""
		}
		return nil, fmt.Sprintf("invalid duration %d: missing unit (e.g. \"%ds\")", n, n)
	}
	return nil, `must be a duration (e.g. "30s")`
}

func isPlainNumber(s string) bool {
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return false
	}
	return strings.Trim(s, "0123456789.+-") == ""
}

// timeValue accepts RFC 3339 strings and YAML timestamps.
func timeValue(v any) (any, string) {
	const want = "RFC 3339, e.g. 2026-12-01T02:00:00Z"
	switch x := v.(type) {
	case time.Time:
		return x.Format(time.RFC3339Nano), ""
	case string:
		if _, err := time.Parse(time.RFC3339, x); err == nil {
			return x, ""
		}
		return nil, fmt.Sprintf("invalid time %q (want %s)", x, want)
	}
	return nil, "must be a time (want " + want + ")"
}
