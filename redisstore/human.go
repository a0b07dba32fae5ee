package redisstore

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/incident"
)

//go:embed human.lua
var humanLua string

// humanScript runs every human action; a Script holds only its source and
// hash, so one serves every Store.
var humanScript = redis.NewScript(libLua + humanLua)

var _ incident.HumanStore = (*Store)(nil)

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
	comps := ""
	if len(m.Components) > 0 {
		pairs := make([][2]string, 0, len(m.Components))
		for _, c := range slices.Sorted(maps.Keys(m.Components)) {
			pairs = append(pairs, [2]string{c, string(m.Components[c])})
		}
		b, err := json.Marshal(pairs)
		if err != nil {
			return incident.Incident{}, fmt.Errorf("redisstore: create incident %q: %w", id, err)
		}
		comps = string(b)
	}
	return s.human(ctx, "create", id, m.At, m.Name, string(status), m.Body, string(m.Impact), comps)
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
	return s.human(ctx, "update", id, u.At, string(u.Status), u.Body)
}

// Rename names an incident and locks the name: automation never renames it
// again.
func (s *Store) Rename(ctx context.Context, id, name string, at time.Time) (incident.Incident, error) {
	if err := incident.ValidName(name); err != nil {
		return incident.Incident{}, fmt.Errorf("redisstore: rename incident %q: %w", id, err)
	}
	return s.human(ctx, "rename", id, at, name)
}

func (s *Store) human(ctx context.Context, op, id string, at time.Time, args ...any) (incident.Incident, error) {
	argv := append([]any{s.incidentPrefix, op, id, at.UnixMilli()}, args...)
	res, err := humanScript.Run(ctx, s.client, s.keys, argv...).StringSlice()
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
