package config

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Position is a line and column in a YAML file, both from 1.
type Position struct{ Line, Column int }

// Locator finds key paths ("checks[3].http.url") in a parsed YAML file.
type Locator struct{ root *yaml.Node }

// NewLocator parses b for Locate; a file that does not parse has no
// positions (Load reports why).
func NewLocator(b []byte) Locator {
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return Locator{}
	}
	return Locator{root: doc.Content[0]}
}

// Locate returns where path is written: the key of a mapping entry, the
// item of a list. false when the file does not hold it (a default, an
// environment variable, a key under an alias or a merge key).
func (l Locator) Locate(path string) (Position, bool) {
	if path == "" {
		return Position{}, false
	}
	n, at := l.root, l.root
	rest := path
	for n != nil && rest != "" {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			i, err := strconv.Atoi(rest[1:max(end, 1)])
			if end < 0 || err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return Position{}, false
			}
			n, at, rest = n.Content[i], n.Content[i], strings.TrimPrefix(rest[end+1:], ".")
			continue
		}
		if n.Kind != yaml.MappingNode {
			return Position{}, false
		}
		key, next, ok := mappingEntry(n, rest)
		if !ok {
			return Position{}, false
		}
		n, at, rest = next, key, strings.TrimPrefix(strings.TrimPrefix(rest, key.Value), ".")
	}
	if n == nil || at == nil || rest != "" {
		return Position{}, false
	}
	return Position{Line: at.Line, Column: at.Column}, true
}

// mappingEntry finds the entry of mapping m whose key starts path: the
// longest, so that a key with a dot in it ("X.Y" of a header map) is found
// whole.
func mappingEntry(m *yaml.Node, path string) (key, value *yaml.Node, ok bool) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		rest, found := strings.CutPrefix(path, k.Value)
		if !found || k.Value == "" || (rest != "" && rest[0] != '.' && rest[0] != '[') {
			continue
		}
		if key == nil || len(k.Value) > len(key.Value) {
			key, value = k, m.Content[i+1]
		}
	}
	return key, value, key != nil
}
