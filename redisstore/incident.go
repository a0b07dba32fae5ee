package redisstore

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/ownership"
)

// maxDeletePerTick bounds the retention work of one Tick.
const maxDeletePerTick = 100

var _ incident.Store = (*Store)(nil)

// observeArgs are observe.lua's arguments.
type observeArgs struct {
	Comp         string      `json:"comp"`
	Name         string      `json:"name"`
	Status       string      `json:"status"`
	At           int64       `json:"at"`
	Started      int64       `json:"started"`
	Body         string      `json:"body"`
	NewID        string      `json:"new_id"`
	GroupWindow  int64       `json:"group_window"`
	GroupBy      string      `json:"group_by"`
	Group        string      `json:"group,omitempty"`
	Links        []string    `json:"links,omitempty"`
	ReopenWindow int64       `json:"reopen_window"`
	Detail       string      `json:"detail"`
	Parents      []string    `json:"parents,omitempty"`
	Fence        fenceArg    `json:"fence"`
	Retire       bool        `json:"retire,omitempty"`
	Gone         string      `json:"gone,omitempty"`
	Receivers    []filterArg `json:"receivers,omitempty"`
	Vantage      string      `json:"vantage,omitempty"`
	Vantages     []string    `json:"vantages,omitempty"`
	Quorum       int         `json:"quorum,omitempty"`
	Regional     string      `json:"regional,omitempty"`
	Fresh        int64       `json:"fresh,omitempty"`
}

// VerdictFresh is how long a vantage's verdict counts (quorum.lua): an
// owner observes every component again at least every 30 s (the engine's
// resync), so a verdict three times older is from a vantage that stopped
// speaking, or came back and has not spoken yet.
const VerdictFresh = 90 * time.Second

// Observe records a component status and applies the incident lifecycle in
// one atomic script. Replaying an observation returns ActionNone.
func (s *Store) Observe(ctx context.Context, o incident.Observation) (_ incident.Transition, err error) {
	defer func() { err = s.count("observe", err) }()
	if err := validate(o); err != nil {
		return incident.Transition{}, fmt.Errorf("redisstore: observe %s: %w", o.Component, err)
	}
	started := o.StartedAt
	if started.IsZero() || started.After(o.At) {
		started = o.At
	}
	name := o.ComponentName
	if name == "" {
		name = o.Component
	}
	newID := o.NewID
	if newID == "" {
		newID = incident.NewID()
	}
	res, err := s.run(ctx, s.s.observe, nil, observeArgs{
		Comp: o.Component, Name: name, Status: string(o.Status),
		At: o.At.UnixMilli(), Started: started.UnixMilli(), Body: o.Body, NewID: newID,
		GroupWindow: windowMS(o.Policy.GroupWindow), GroupBy: cmp.Or(o.Policy.GroupBy, incident.GroupByRelation),
		Group: o.Group, Links: o.Links, ReopenWindow: windowMS(o.Policy.ReopenWindow),
		Detail: o.Detail, Parents: o.Parents, Fence: toFenceArg(o.Fence), Retire: o.Retire, Gone: o.Gone,
		Vantage: ownership.VantageOf(o.Fence.Member), Vantages: o.Vantages, Quorum: o.Quorum, Regional: o.Regional, Fresh: VerdictFresh.Milliseconds(),
		Receivers: s.receiverArgs(),
	}).StringSlice()
	if err != nil {
		return incident.Transition{}, fmt.Errorf("redisstore: observe %s: %w", o.Component, err)
	}
	var combined incident.ComponentStatus
	if len(res) == 4 {
		combined, res = incident.ComponentStatus(res[3]), res[:3]
	}
	trs, err := transitions(res)
	if err != nil || len(trs) != 1 {
		return incident.Transition{}, fmt.Errorf("redisstore: observe %s: unexpected reply %q", o.Component, res)
	}
	if trs[0].Action == fencedReply {
		return incident.Transition{}, fmt.Errorf("redisstore: observe %s: %w", o.Component, ownership.ErrFenced)
	}
	trs[0].Combined = combined
	return trs[0], nil
}

// tickArgs are tick.lua's arguments.
type tickArgs struct {
	Now          int64       `json:"now"`
	ResolveAfter int64       `json:"resolve_after"`
	Retention    int64       `json:"retention"`
	Body         string      `json:"body"`
	GoneBody     string      `json:"gone_body,omitempty"`
	MaxDelete    int         `json:"max_delete"`
	Member       string      `json:"member"`
	Receivers    []filterArg `json:"receivers,omitempty"`
}

// Tick resolves incidents that have been monitoring for p.ResolveAfter and
// deletes up to 100 incidents resolved more than p.Retention ago, in one
// atomic script. It is idempotent and safe to run from every replica; only
// a live member may run it (ownership.ErrFenced otherwise).
func (s *Store) Tick(ctx context.Context, t incident.TickRequest) (_ []incident.Transition, err error) {
	defer func() { err = s.count("tick", err) }()
	res, err := s.run(ctx, s.s.tick, nil, tickArgs{
		Now: t.Now.UnixMilli(), ResolveAfter: windowMS(t.Policy.ResolveAfter), Retention: windowMS(t.Policy.Retention),
		Body: t.ResolvedBody, GoneBody: t.GoneBody, MaxDelete: maxDeletePerTick, Member: t.Member, Receivers: s.receiverArgs(),
	}).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: tick: %w", err)
	}
	trs, err := transitions(res)
	if err != nil {
		return nil, fmt.Errorf("redisstore: tick: %w", err)
	}
	if len(trs) == 1 && trs[0].Action == fencedReply {
		return nil, fmt.Errorf("redisstore: tick: %w", ownership.ErrFenced)
	}
	return trs, nil
}

// Version returns the counter every transition increments; 0 before the
// first one.
func (s *Store) Version(ctx context.Context) (_ int64, err error) {
	defer func() { err = s.count("version", err) }()
	v, err := s.client.Get(ctx, s.p+"version").Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("redisstore: version: %w", err)
	}
	return v, nil
}

// Load reads all component statuses, the open incidents and the limit most
// recent incidents in one read-only script, newest first.
func (s *Store) Load(ctx context.Context, limit int) (_ incident.State, err error) {
	defer func() { err = s.count("load", err) }()
	raw, err := s.runRO(ctx, s.s.load, nil, struct {
		Limit int   `json:"limit"`
		Fresh int64 `json:"fresh"`
	}{max(limit, 0), VerdictFresh.Milliseconds()}).Text()
	if err != nil {
		return incident.State{}, fmt.Errorf("redisstore: load: %w", err)
	}
	st, err := decodeState([]byte(raw))
	if err != nil {
		return incident.State{}, fmt.Errorf("redisstore: load: %w", err)
	}
	return st, nil
}

func validate(o incident.Observation) error {
	switch {
	case o.Component == "":
		return errors.New("empty component id")
	case !o.Status.Valid():
		return fmt.Errorf("invalid status %q", o.Status)
	case o.At.IsZero():
		return errors.New("zero observation time")
	case !o.Retire && !o.Fence.Valid():
		return errors.New("no ownership fence")
	}
	for _, p := range o.Parents {
		if p == "" {
			return errors.New("empty parent id")
		}
	}
	return nil
}

// windowMS converts a policy duration to milliseconds; negative means 0.
func windowMS(d time.Duration) int64 { return max(d.Milliseconds(), 0) }

// transitions decodes a script's flat {action, id, impact, ...} reply.
func transitions(res []string) ([]incident.Transition, error) {
	if len(res)%3 != 0 {
		return nil, fmt.Errorf("unexpected reply %q", res)
	}
	trs := make([]incident.Transition, 0, len(res)/3)
	for i := 0; i < len(res); i += 3 {
		trs = append(trs, incident.Transition{
			Action:     incident.Action(res[i]),
			IncidentID: res[i+1],
			Impact:     incident.Impact(res[i+2]),
		})
	}
	return trs, nil
}
