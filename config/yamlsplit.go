package config

import (
	"bytes"
	"regexp"
	"sync"
	"unicode/utf8"
)

const (
	// splitMinItems is how many items the checks list needs before
	// parseYAML parses it in parts: below it the whole file is quicker.
	splitMinItems = 2000
	// splitPartItems is how many items a part holds. Parts are small and
	// parsed a few at a time, not one per core at once: a part's node tree
	// is about 2.5 kB an item, and two halves of 50,000 checks held 122 MiB
	// of tree together at a reload's peak (docs/benchmarks.md).
	splitPartItems = 1000
)

// parseSplit parses a large config's checks list in parts of perPart
// items, workers at a time, beside the rest of the file: the YAML parser builds one
// node tree per document and does not share the work, and at 50,000
// checks the parse was most of a reload (docs/benchmarks.md). The items
// of a block sequence are independent of one another, so each part is a
// document of its own ("checks:" and a run of whole items).
//
// It only takes files it can cut without changing what they mean: one
// top-level "checks:" followed by a block sequence of at least minItems
// items, no anchors or aliases, no document markers or directives, no
// carriage returns or tabs, valid UTF-8. Anything else, and any error in a part, is false: the
// file is then parsed whole, for its result and its error's position.
func parseSplit(b []byte, minItems, perPart, workers int) (map[string]any, bool) {
	if perPart < 1 || workers < 1 || !utf8.Valid(b) || bytes.ContainsAny(b, "\r\t") || bytes.HasPrefix(b, []byte("---")) || bytes.HasPrefix(b, []byte("%")) ||
		bytes.Contains(b, []byte("\n---")) || bytes.Contains(b, []byte("\n...")) || bytes.Contains(b, []byte("\n%")) ||
		mayHoldAnchor(b) {
		return nil, false
	}
	hdr, ok := checksHeader(b)
	if !ok {
		return nil, false
	}
	start := hdr[1] + 1 // the first line after the header
	if start > len(b) {
		return nil, false
	}
	items, end, ok := itemStarts(b, start)
	if !ok || len(items) < minItems {
		return nil, false
	}
	// What comes before and after the section must be the top-level
	// mapping's other keys, in block style: so they join where the
	// section was as they did around it.
	before, after := b[:hdr[0]], b[end:]
	blockKey := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*:( |$)`)
	for _, part := range [][]byte{before, after} {
		if line := firstContent(part); line != nil && !blockKey.Match(line) {
			return nil, false
		}
	}
	// The rest of the file, without the checks section, and the parts,
	// each a whole number of items.
	rest := append(append([]byte{}, before...), after...)
	docs := [][]byte{rest}
	per := perPart
	for i := 0; i < len(items); i += per {
		from, to := items[i], end
		if i == 0 {
			from = start // with the comments before the first item
		}
		if i+per < len(items) {
			to = items[i+per]
		}
		docs = append(docs, append([]byte("checks:\n"), b[from:to]...))
	}
	maps := make([]map[string]any, len(docs))
	oks := make([]bool, len(docs))
	var wg sync.WaitGroup
	next := make(chan int, len(docs))
	for i := range docs {
		next <- i
	}
	close(next)
	for range min(workers, len(docs)) {
		wg.Go(func() {
			for i := range next {
				m, err := parseWhole(docs[i])
				maps[i], oks[i] = m, err == nil
				docs[i] = nil // the part's text, once parsed
			}
		})
	}
	wg.Wait()
	out := maps[0]
	if !oks[0] {
		return nil, false
	}
	if out == nil {
		// The rest must be the rest of the top-level mapping, or nothing:
		// text that parses to no mapping on its own ("!") does not
		// continue one.
		if firstContent(rest) != nil {
			return nil, false
		}
		out = map[string]any{}
	}
	if _, dup := out["checks"]; dup {
		return nil, false
	}
	var checks []any
	for i := 1; i < len(docs); i++ {
		list, ok := maps[i]["checks"].([]any)
		if !oks[i] || !ok || len(maps[i]) != 1 {
			return nil, false
		}
		checks = append(checks, list...)
	}
	out["checks"] = checks
	return out, true
}

// itemStarts returns where each item of the block sequence that begins at
// offset start begins, and where the sequence ends: at the first line at
// the top level (no indentation) that is not blank, a comment or an item
// of a sequence at the top level. A line indented less than the items,
// or a line at their indentation that is no item, belongs to no shape
// parseSplit cuts: ok is false.
func itemStarts(b []byte, start int) (items []int, end int, ok bool) {
	indent := -1
	for at := start; at < len(b); {
		next := bytes.IndexByte(b[at:], '\n')
		line := b[at:]
		if next >= 0 {
			line = b[at : at+next]
		}
		trimmed := bytes.TrimLeft(line, " ")
		n := len(line) - len(trimmed)
		switch {
		case len(trimmed) == 0 || trimmed[0] == '#':
			// blank or a comment: part of whatever surrounds it
		case indent < 0:
			if !isItem(trimmed) {
				return nil, 0, false
			}
			indent = n
			items = append(items, at)
		case n == indent && isItem(trimmed):
			items = append(items, at)
		case n == 0 && !isItem(trimmed):
			return items, at, true // the next top-level key
		case n <= indent:
			return nil, 0, false
		}
		if next < 0 {
			break
		}
		at += next + 1
	}
	return items, len(b), true
}

// isItem reports whether a line, less its indentation, starts a
// sequence item.
func isItem(line []byte) bool {
	return len(line) == 1 && line[0] == '-' || bytes.HasPrefix(line, []byte("- "))
}

// firstContent returns the first line of a YAML text that is neither
// blank nor a comment, nil if there is none.
func firstContent(b []byte) []byte {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if t := bytes.TrimLeft(line, " "); len(t) > 0 && t[0] != '#' {
			return line
		}
	}
	return nil
}

// mayHoldAnchor reports whether b holds what could be an anchor or an
// alias: "&" or "*" at the start of a token, followed by a name. Text
// that is neither (a "*" in a quoted string after a space) only costs the
// split. A scan, not a regular expression: this runs on every large
// config, and the expression took a quarter of a second on 5 MB.
func mayHoldAnchor(b []byte) bool {
	for i := 0; i < len(b); {
		j := bytes.IndexAny(b[i:], "&*")
		if j < 0 {
			return false
		}
		i += j
		startsToken := i == 0 || bytes.IndexByte([]byte(" \n[{,"), b[i-1]) >= 0
		if startsToken && i+1 < len(b) && b[i+1] != ' ' && b[i+1] != '\n' {
			return true
		}
		i++
	}
	return false
}

// checksHeader finds the one line "checks:" at the top level (a comment
// after it allowed), and returns where it starts and ends. Two, or none,
// is false.
func checksHeader(b []byte) ([2]int, bool) {
	var found [2]int
	n := 0
	for i := 0; i < len(b); {
		j := bytes.Index(b[i:], []byte("checks:"))
		if j < 0 {
			break
		}
		at := i + j
		i = at + len("checks:")
		if at > 0 && b[at-1] != '\n' {
			continue
		}
		end := len(b)
		if k := bytes.IndexByte(b[i:], '\n'); k >= 0 {
			end = i + k
		}
		tail := bytes.TrimLeft(b[i:end], " ")
		if len(tail) > 0 && (tail[0] != '#' || len(tail) == end-i) {
			continue // a value on the line, or "checks:#" (no key at all)
		}
		found = [2]int{at, end}
		n++
	}
	return found, n == 1
}
