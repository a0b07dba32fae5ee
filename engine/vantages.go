package engine

import "github.com/tocsin/tocsin/config"

// probedFrom maps each component to the vantages that probe any of its
// checks, in declared order; nil when no vantages are declared. A
// component of heartbeat checks only is judged alike from every vantage
// (the beats are in the store), so all of them count. One pass
// over the checks: at 50,000 checks a pass per component is 250 million
// steps.
func probedFrom(cfg *config.Config) map[string][]string {
	if len(cfg.Vantages) == 0 {
		return nil
	}
	seen := make(map[string]map[string]bool, len(cfg.Components))
	for _, c := range cfg.Checks {
		for _, v := range cfg.VantagesOf(c) {
			if seen[c.Component] == nil {
				seen[c.Component] = map[string]bool{}
			}
			seen[c.Component][v] = true
		}
	}
	out := make(map[string][]string, len(cfg.Components))
	for _, comp := range cfg.Components {
		var vs []string
		for _, v := range cfg.Vantages {
			if seen[comp.ID][v] {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			vs = cfg.Vantages
		}
		out[comp.ID] = vs
	}
	return out
}
