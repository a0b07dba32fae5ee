package redisstore

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tocsin/tocsin/incident"
)

// The JSON the scripts store and load.go returns. It follows
// incident.Incident's field names, with times as integer unix milliseconds,
// plus fields only the scripts use (name_locked, component_names, codes, seq),
// which Go ignores.

type storedState struct {
	Version    int64                      `json:"version"`
	Updated    unixMS                     `json:"updated"`
	Created    unixMS                     `json:"created"`
	Components map[string]storedComponent `json:"components"`
	Incidents  []storedIncident           `json:"incidents"`
	Vantages   map[string]storedVantages  `json:"vantages"`
	Live       *string                    `json:"live"`
}

// storedVantages is what the live vantages see of a component (load.lua).
type storedVantages struct {
	N       int    `json:"n"`
	Failing string `json:"f"`
}

type storedComponent struct {
	Status incident.ComponentStatus `json:"s"`
	At     unixMS                   `json:"t"`
}

type storedIncident struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Status       incident.Status `json:"status"`
	Impact       incident.Impact `json:"impact"`
	Auto         bool            `json:"auto"`
	CreatedAt    unixMS          `json:"created_at"`
	UpdatedAt    unixMS          `json:"updated_at"`
	StartedAt    unixMS          `json:"started_at"`
	MonitoringAt unixMS          `json:"monitoring_at"`
	ResolvedAt   unixMS          `json:"resolved_at"`
	Components   statusMap       `json:"components"`
	Hand         bool            `json:"hand"`
	Human        statusMap       `json:"hc"`
	Updates      []storedUpdate  `json:"updates"`
}

type storedUpdate struct {
	ID                 string                       `json:"id"`
	Status             incident.Status              `json:"status"`
	Body               string                       `json:"body"`
	CreatedAt          unixMS                       `json:"created_at"`
	AffectedComponents []incident.AffectedComponent `json:"affected_components"`
	Notified           bool                         `json:"dn"`
}

// unixMS is a time in unix milliseconds; 0 or absent is the zero time. It
// accepts exponent notation, which Lua's number formatting may produce.
type unixMS int64

func (m *unixMS) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*m = 0
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("bad unix ms time %s", b)
	}
	*m = unixMS(f)
	return nil
}

func (m unixMS) time() time.Time {
	if m == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(m)).UTC()
}

// statusMap is a JSON object that also accepts [], which is how miniredis'
// Lua JSON encodes an empty table.
type statusMap map[string]incident.ComponentStatus

func (m *statusMap) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("[]")) {
		*m = statusMap{}
		return nil
	}
	return json.Unmarshal(b, (*map[string]incident.ComponentStatus)(m))
}

func decodeState(raw []byte) (incident.State, error) {
	var ss storedState
	if err := json.Unmarshal(raw, &ss); err != nil {
		return incident.State{}, fmt.Errorf("decode snapshot: %w", err)
	}
	st := incident.State{
		Version:    ss.Version,
		UpdatedAt:  ss.Updated.time(),
		CreatedAt:  ss.Created.time(),
		Components: make(map[string]incident.ComponentState, len(ss.Components)),
		Incidents:  make([]incident.Incident, 0, len(ss.Incidents)),
	}
	for id, c := range ss.Components {
		st.Components[id] = incident.ComponentState{Status: c.Status, UpdatedAt: c.At.time()}
	}
	if ss.Live != nil {
		st.LiveVantages = strings.Fields(*ss.Live)
	}
	for id, v := range ss.Vantages {
		c := st.Components[id]
		c.Vantages, c.FailingFrom = v.N, strings.Fields(v.Failing)
		st.Components[id] = c
	}
	for _, si := range ss.Incidents {
		st.Incidents = append(st.Incidents, si.incident())
	}
	slices.SortStableFunc(st.Incidents, func(a, b incident.Incident) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	return st, nil
}

func (si storedIncident) incident() incident.Incident {
	inc := incident.Incident{
		ID:           si.ID,
		Name:         si.Name,
		Status:       si.Status,
		Impact:       si.Impact,
		Auto:         si.Auto,
		CreatedAt:    si.CreatedAt.time(),
		UpdatedAt:    si.UpdatedAt.time(),
		StartedAt:    si.StartedAt.time(),
		MonitoringAt: si.MonitoringAt.time(),
		ResolvedAt:   si.ResolvedAt.time(),
		Components:   map[string]incident.ComponentStatus(si.Components),
		ByHand:       si.Hand || !si.Auto,
		Updates:      make([]incident.Update, 0, len(si.Updates)),
	}
	if len(si.Human) > 0 {
		inc.HumanComponents = map[string]incident.ComponentStatus(si.Human)
	}
	if inc.Components == nil {
		inc.Components = map[string]incident.ComponentStatus{}
	}
	for _, u := range si.Updates {
		inc.Updates = append(inc.Updates, incident.Update{
			ID:                 u.ID,
			Status:             u.Status,
			Body:               u.Body,
			CreatedAt:          u.CreatedAt.time(),
			AffectedComponents: u.AffectedComponents,
			Notified:           u.Notified,
		})
	}
	return inc
}
