package engine

import "github.com/tocsin/tocsin/config"

// parentsFirst orders components so that each comes after the components it
// depends on, otherwise keeping config order. A cycle (which validation
// rejects) is broken where it is met.
func parentsFirst(cs []config.Component) []config.Component {
	byID := make(map[string]config.Component, len(cs))
	for _, c := range cs {
		byID[c.ID] = c
	}
	out := make([]config.Component, 0, len(cs))
	seen := make(map[string]bool, len(cs))
	var visit func(c config.Component)
	visit = func(c config.Component) {
		if seen[c.ID] {
			return
		}
		seen[c.ID] = true
		for _, d := range c.DependsOn {
			if p, ok := byID[d]; ok {
				visit(p)
			}
		}
		out = append(out, c)
	}
	for _, c := range cs {
		visit(c)
	}
	return out
}
