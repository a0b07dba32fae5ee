package probe

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tocsin/tocsin/config"
)

// jsonAssertion is an http.body_json assertion, its path parsed: the
// json_path syntax and lookup of a queue's http_json source
// (jsonpath.go), so that one path means the same in both.
type jsonAssertion struct {
	raw      string
	path     []string
	equals   *string
	min, max *float64
}

// parseJSONAssertions parses the paths of body_json; every bad one is an
// error naming its key.
func parseJSONAssertions(as []config.JSONAssertion) ([]jsonAssertion, error) {
	var errs []error
	out := make([]jsonAssertion, 0, len(as))
	for i, a := range as {
		path, err := ParseJSONPath(a.Path)
		if err != nil {
			errs = append(errs, fmt.Errorf("http.body_json[%d].path: %w", i, err))
			continue
		}
		out = append(out, jsonAssertion{raw: a.Path, path: path, equals: a.Equals, min: a.Min, max: a.Max})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// jsonMismatch returns why body fails the first assertion it fails, ""
// when it passes them all.
func jsonMismatch(body []byte, as []jsonAssertion) string {
	doc, err := DecodeJSON(body)
	if err != nil {
		return "body is not JSON: " + err.Error()
	}
	for _, a := range as {
		if msg := a.mismatch(doc); msg != "" {
			return fmt.Sprintf("body_json %q: %s", a.raw, msg)
		}
	}
	return ""
}

func (a jsonAssertion) mismatch(doc any) string {
	v, err := jsonPathValue(doc, a.path)
	if err != nil {
		return err.Error()
	}
	if a.equals != nil {
		got, ok := jsonText(v)
		switch {
		case !ok:
			return fmt.Sprintf("is %s, want %q", jsonKind(v), Clip(*a.equals))
		case !sameJSONText(got, *a.equals):
			return fmt.Sprintf("is %q, want %q", Clip(got), Clip(*a.equals))
		}
		return ""
	}
	n, err := jsonNumber(v, location(a.path))
	switch {
	case err != nil:
		return err.Error()
	case a.min != nil && n < *a.min:
		return fmt.Sprintf("is %s, want at least %s", FormatNumber(n), FormatNumber(*a.min))
	case a.max != nil && n > *a.max:
		return fmt.Sprintf("is %s, want at most %s", FormatNumber(n), FormatNumber(*a.max))
	}
	return ""
}

// jsonText is a scalar as the text equals compares with: a string as is,
// a number as written, true, false, null; false for an object or array.
func jsonText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	case bool:
		return strconv.FormatBool(x), true
	case nil:
		return "null", true
	}
	return "", false
}

// sameJSONText compares as numbers when both are numbers ("3" and "3.0"),
// else exactly.
func sameJSONText(got, want string) bool {
	g, gerr := strconv.ParseFloat(strings.TrimSpace(got), 64)
	w, werr := strconv.ParseFloat(strings.TrimSpace(want), 64)
	if gerr == nil && werr == nil {
		return g == w
	}
	return got == want
}
