package status

import "github.com/tocsin/tocsin/detector"

// checkSet holds the published check states a Refresher read: a slice that
// every build reads in place (Inputs.Checks), and each state's index in
// it by name. A cycle used to copy a map of them into a new slice for
// every build: at 50,000 checks 24 MB and 30-40 ms per rebuild, twice a
// second while results come in (BenchmarkRefresherChecks50k); a read
// of changes now touches only the states that changed.
type checkSet struct {
	list []detector.Check
	at   map[string]int
}

// put adds c, or replaces the state of the same name.
func (s *checkSet) put(c detector.Check) {
	if i, ok := s.at[c.Name]; ok {
		s.list[i] = c
		return
	}
	if s.at == nil {
		s.at = map[string]int{}
	}
	s.at[c.Name] = len(s.list)
	s.list = append(s.list, c)
}

// remove drops name's state, if held, moving the last one into its place.
func (s *checkSet) remove(name string) {
	i, ok := s.at[name]
	if !ok {
		return
	}
	last := len(s.list) - 1
	if i != last {
		s.list[i] = s.list[last]
		s.at[s.list[i].Name] = i
	}
	s.list[last] = detector.Check{} // let its history go
	s.list = s.list[:last]
	delete(s.at, name)
}

// reset drops every state.
func (s *checkSet) reset() {
	clear(s.list)
	s.list = s.list[:0]
	clear(s.at)
}
