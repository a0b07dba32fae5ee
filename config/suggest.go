package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/agnivade/levenshtein"
)

// didYouMean returns ` (did you mean "interval"?)` for the known key
// closest to key, or "" when none is close.
func didYouMean(key string, known map[string]field) string {
	if k := closest(key, known); k != "" {
		return fmt.Sprintf(" (did you mean %q?)", k)
	}
	return ""
}

// closest returns the known key closest to key, "" if none is close
// (closestOf).
func closest(key string, known map[string]field) string {
	return closestOf(key, slices.Sorted(maps.Keys(known)))
}

// closestOf returns the name of known closest to key, "" if none is close:
// one that key (of four letters or more) begins ("depend" for
// "depends_on"), else one at most two edits away and fewer than half of
// key's letters, so that a short key is not matched to anything at all.
// Case does not count. Of names equally close, the first in known wins.
func closestOf(key string, known []string) string {
	lower := strings.ToLower(key)
	best, bestDist := "", 0
	for _, k := range known {
		if len(lower) >= 4 && strings.HasPrefix(k, lower) {
			return k
		}
		d := levenshtein.ComputeDistance(lower, k)
		if best == "" || d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" || bestDist > 2 || 2*bestDist >= len(key) {
		return ""
	}
	return best
}
