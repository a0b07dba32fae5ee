package config

import (
	"reflect"
	"testing"
)

// TestClosest: the suggestion for an unknown key is a key of the same
// object a slip away, or none.
func TestClosest(t *testing.T) {
	t.Parallel()
	check := fieldsByKey(reflect.TypeFor[Check]())
	for key, want := range map[string]string{
		"intervall":        "interval",
		"Interval":         "interval",
		"timout":           "timeout",
		"failure_treshold": "failure_threshold",
		"compon":           "component",
		"htp":              "http",
		"nme":              "name",
		"ab":               "",
		"url":              "",
		"schedule":         "",
	} {
		if got := closest(key, check); got != want {
			t.Errorf("closest(%q) = %q, want %q", key, got, want)
		}
	}
}
