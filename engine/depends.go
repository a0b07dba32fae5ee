package engine

import (
	"slices"

	"github.com/tocsin/tocsin/config"
)

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

// dependencyLinks maps each component to the components linked to it
// through depends_on in either direction, sorted: under incidents.group_by
// "relation" a failure joins an open incident holding one of them.
func dependencyLinks(cs []config.Component) map[string][]string {
	out := make(map[string][]string, len(cs))
	for _, c := range cs {
		for _, d := range c.DependsOn {
			out[c.ID] = append(out[c.ID], d)
			out[d] = append(out[d], c.ID)
		}
	}
	for id, l := range out {
		slices.Sort(l)
		out[id] = slices.Compact(l)
	}
	return out
}
