package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/tocsin/tocsin/incident"
)

var _ incident.HumanStore = (*Store)(nil)

// humanArgs are human.lua's arguments; which are set depends on Op.
type humanArgs struct {
	Op         string      `json:"op"`
	ID         string      `json:"id"`
	At         int64       `json:"at"`
	Name       string      `json:"name,omitempty"`
	Status     string      `json:"status,omitempty"`
	Body       string      `json:"body"`
	Impact     string      `json:"impact,omitempty"`
	Components [][2]string `json:"components,omitempty"`
	Receivers  []filterArg `json:"receivers,omitempty"`
}

// CreateIncident opens a manual incident in one atomic script: not
// automatic, name-locked, its first update marked as written by a person.
// Its components are recorded in the incident only; their own statuses
// belong to the checks.
func (s *Store) CreateIncident(ctx context.Context, m incident.ManualIncident) (incident.Incident, error) {
	if err := m.Validate(); err != nil {
		return incident.Incident{}, fmt.Errorf("redisstore: create incident: %w", err)
	}
	id := m.ID
	if id == "" {
		id = incident.NewID()
	}
	status := m.Status
	if status == "" {
		status = incident.Investigating
	}
	var pairs [][2]string
	for _, c := range slices.Sorted(maps.Keys(m.Components)) {
		pairs = append(pairs, [2]string{c, string(m.Components[c])})
	}
	return s.human(ctx, humanArgs{Op: "create", ID: id, At: m.At.UnixMilli(), Name: m.Name,
		Status: string(status), Body: m.Body, Impact: string(m.Impact), Components: pairs})
}

// AddUpdate adds a person's update and moves the incident to its status in
// one atomic script. Resolving an incident whose components still fail
// marks them operational, so that the failure, when the engine reports it
// again, reopens the incident (observe's reopen path, within
// reopen_window). Any other status reopens a resolved incident.
func (s *Store) AddUpdate(ctx context.Context, id string, u incident.HumanUpdate) (incident.Incident, error) {
	if err := u.Validate(); err != nil {
		return incident.Incident{}, fmt.Errorf("redisstore: update incident %q: %w", id, err)
	}
	return s.human(ctx, humanArgs{Op: "update", ID: id, At: u.At.UnixMilli(), Status: string(u.Status), Body: u.Body})
}

// Rename names an incident and locks the name: automation never renames it
// again.
func (s *Store) Rename(ctx context.Context, id, name string, at time.Time) (incident.Incident, error) {
	if err := incident.ValidName(name); err != nil {
		return incident.Incident{}, fmt.Errorf("redisstore: rename incident %q: %w", id, err)
	}
	return s.human(ctx, humanArgs{Op: "rename", ID: id, At: at.UnixMilli(), Name: name})
}

func (s *Store) human(ctx context.Context, a humanArgs) (_ incident.Incident, err error) {
	defer func() { err = s.count("human", err) }()
	op, id := a.Op, a.ID
	a.Receivers = s.receiverArgs()
	res, err := s.run(ctx, s.s.human, nil, a).StringSlice()
	if err != nil {
		return incident.Incident{}, fmt.Errorf("redisstore: %s incident %q: %w", op, id, err)
	}
	switch {
	case len(res) == 1 && res[0] == "notfound":
		return incident.Incident{}, fmt.Errorf("redisstore: %s incident %q: %w", op, id, incident.ErrNotFound)
	case len(res) != 2 || res[0] != "ok":
		return incident.Incident{}, fmt.Errorf("redisstore: %s incident %q: unexpected reply %q", op, id, res)
	}
	var si storedIncident
	if err := json.Unmarshal([]byte(res[1]), &si); err != nil {
		return incident.Incident{}, fmt.Errorf("redisstore: %s incident %q: decode: %w", op, id, err)
	}
	return si.incident(), nil
}
