package config

import (
	"fmt"
	"slices"
	"strings"
)

// validateDependencies checks every depends_on entry and reports each
// dependency cycle once, at the component where the search met it again.
func validateDependencies(p *problems, cs []Component, ids map[string]bool) {
	index := map[string]int{}
	for i, c := range cs {
		if _, dup := index[c.ID]; !dup {
			index[c.ID] = i
		}
	}
	for i, c := range cs {
		path := fmt.Sprintf("components[%d].depends_on", i)
		for _, d := range c.DependsOn {
			switch {
			case d == c.ID:
				p.addf(path, "component %q cannot depend on itself", d)
			case !ids[d]:
				p.addf(path, "unknown component %q", d)
			}
		}
	}
	const (
		unseen = iota
		onStack
		done
	)
	state := make([]int, len(cs))
	var stack []string
	var visit func(i int)
	visit = func(i int) {
		state[i] = onStack
		stack = append(stack, cs[i].ID)
		for _, d := range cs[i].DependsOn {
			j, ok := index[d]
			if !ok || d == cs[i].ID {
				continue // reported above
			}
			switch state[j] {
			case unseen:
				visit(j)
			case onStack:
				start := slices.Index(stack, d)
				cycle := append(slices.Clone(stack[start:]), d)
				p.addf(fmt.Sprintf("components[%d].depends_on", j), "dependency cycle %s", strings.Join(cycle, " -> "))
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
	}
	for i := range cs {
		if state[i] == unseen {
			visit(i)
		}
	}
}
