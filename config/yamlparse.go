package config

import (
	"runtime"

	"go.yaml.in/yaml/v3"
)

// parseYAML parses a config file into a map as koanf's YAML parser does
// (yaml.v3 into map[string]any), but decodes each top-level list an item
// at a time and lets go of an item's nodes once decoded. yaml.v3 builds
// the whole document's node tree before it decodes it: for 50,000 checks
// the tree is 122 MiB and the map 37 MiB, and a reload holds both beside
// the config in force. Decoded this way, the map grows as the tree
// shrinks. Anything but a plain mapping of string keys (an empty file, a
// merge key or an alias at the top, a duplicate key) is parsed again by
// yaml.Unmarshal, for its result and its error.
func parseYAML(b []byte) (map[string]any, error) {
	if out, ok := parseSplit(b, splitMinItems, splitPartItems, runtime.GOMAXPROCS(0)); ok {
		return out, nil
	}
	return parseWhole(b)
}

// parseWhole is parseYAML for the file in one piece (yamlsplit.go cuts a
// large one in parts).
func parseWhole(b []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if out, ok := decodeTop(&doc); ok {
		return out, nil
	}
	var out map[string]any
	if err := yaml.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeTop decodes the document's top-level mapping; false if it is not
// one decodeTop can take apart as yaml.v3 would decode it whole.
func decodeTop(doc *yaml.Node) (_ map[string]any, ok bool) {
	// yaml.v3 panics on a node tree it did not expect; should taking the
	// tree apart ever leave one, the file is parsed whole instead: a config
	// must never bring the daemon down (a reload panicked on an aliased
	// list before the anchor check below).
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, false
	}
	m := doc.Content[0]
	out := make(map[string]any, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" || k.Value == "<<" || v.Kind == yaml.AliasNode {
			return nil, false
		}
		if _, dup := out[k.Value]; dup {
			return nil, false
		}
		var val any
		// An anchored list may be aliased later, and the alias would find
		// its items gone: such a list is decoded whole.
		if v.Kind == yaml.SequenceNode && v.Anchor == "" {
			items := make([]any, len(v.Content))
			for j, item := range v.Content {
				if err := item.Decode(&items[j]); err != nil {
					return nil, false
				}
				// An alias in a later item still points at this one's
				// nodes; only the list lets go of them.
				v.Content[j] = nil
			}
			val = items
		} else if err := v.Decode(&val); err != nil {
			return nil, false
		}
		out[k.Value] = val
	}
	return out, true
}
