package config

import "fmt"

// A few integer fields write their zero value as a word: quorum takes
// "majority" for 0. The field's tag says which (zero:"majority"), so the
// walker, the environment and the JSON Schema (jsonschema_test.go) read
// the same fact from the type.

// walkField is walk for the value of field f, at key k: a field with a
// zero word takes it (countOrWord).
func (w walker) walkField(path, k string, f field, v any) (any, bool) {
	if f.zero == "" {
		return w.walk(path, f.typ, v)
	}
	out, msg := countOrWord(k, f, v)
	if msg != "" {
		w.probs.add(path, msg)
		return nil, false
	}
	return out, true
}

// countOrWord checks the value of integer field f, at key k, whose zero
// value the file writes as a word (quorum: majority): the word, stored as
// 0, or a whole number of at least 1. 0 itself is refused, as it would be
// read as the word, and so is anything below it.
func countOrWord(k string, f field, v any) (any, string) {
	if s, ok := v.(string); ok && s == f.zero {
		return int64(0), ""
	}
	if n, msg := intValue(v, f.typ.Bits()); msg == "" && n.(int64) >= 1 {
		return n, ""
	}
	want := fmt.Sprintf("(want %s or a whole number of at least 1)", f.zero)
	switch v.(type) {
	case string:
		return nil, fmt.Sprintf("invalid %s %q %s", k, v, want)
	case map[string]any, map[any]any, []any:
		return nil, "must be " + f.zero + " or a whole number of at least 1"
	}
	return nil, fmt.Sprintf("invalid %s %v %s", k, v, want)
}
