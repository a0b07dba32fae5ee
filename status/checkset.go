package status

import (
	"github.com/tocsin/tocsin/checkstate"
	"github.com/tocsin/tocsin/detector"
)

// checkSet holds the published check states a Refresher read: a slice that
// every build reads in place (Inputs.Checks), and each state's index in
// it by name. A cycle used to copy a map of them into a new slice for
// every build: at 50,000 checks 24 MB and 30-40 ms per rebuild, twice a
// second while results come in (BenchmarkRefresherChecks50k); a read
// of changes now touches only the states that changed.
//
// With vantages a check has a state per vantage: the set is keyed by
// field (checkstate.Field), and vantages holds each state's vantage.
type checkSet struct {
	list     []*detector.Check
	vantages []string // parallel to list; all "" without vantages
	at       map[string]int
}

// put adds c as published from vantage, or replaces the state of the same
// field.
func (s *checkSet) put(c detector.Check, vantage string) {
	f := checkstate.Field(c.Name, vantage)
	if i, ok := s.at[f]; ok {
		s.list[i] = &c // a new state: a snapshot may still hold the old one
		return
	}
	if s.at == nil {
		s.at = map[string]int{}
	}
	s.at[f] = len(s.list)
	s.list = append(s.list, &c)
	s.vantages = append(s.vantages, vantage)
}

// remove drops field's state, if held, moving the last one into its
// place.
func (s *checkSet) remove(field string) {
	i, ok := s.at[field]
	if !ok {
		return
	}
	last := len(s.list) - 1
	if i != last {
		s.list[i], s.vantages[i] = s.list[last], s.vantages[last]
		s.at[checkstate.Field(s.list[i].Name, s.vantages[i])] = i
	}
	s.list[last] = nil // let its history go
	s.list, s.vantages = s.list[:last], s.vantages[:last]
	delete(s.at, field)
}

// reset drops every state.
func (s *checkSet) reset() {
	clear(s.list)
	s.list, s.vantages = s.list[:0], s.vantages[:0]
	clear(s.at)
}
