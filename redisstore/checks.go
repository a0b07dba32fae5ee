package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/checkstate"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/probe"
)

// A published check state is a JSON object (storedCheck) in P checks,
// written by its component's owner every writer pass in which it changed
// (checks_write.lua) and read by every replica's refresher, only what
// changed since its last read (checks_read.lua). The scripts never decode
// it.

// storedCheck is a detector.Check as stored. Times are unix nanoseconds
// (0 = zero), durations nanoseconds: a state read back is the state
// written.
type storedCheck struct {
	Component   string               `json:"c"`
	Status      detector.CheckStatus `json:"s"`
	Base        detector.CheckStatus `json:"b,omitempty"`
	Since       int64                `json:"si,omitempty"`
	BadSince    int64                `json:"bs,omitempty"`
	Runs        [4]int               `json:"r"`
	Flapping    bool                 `json:"f,omitempty"`
	FlapPercent float64              `json:"fp,omitempty"`
	// Last is the latest result in full; Recent the ones before it, in
	// short, oldest first.
	Last   *probe.Result `json:"l,omitempty"`
	Recent []shortResult `json:"h,omitempty"`
}

// shortResult is what is kept of an older result: what /api/v1/checks
// shows of it and the detector's flap window reads.
type shortResult struct {
	Status   probe.Status `json:"s"`
	Reason   probe.Reason `json:"r,omitempty"`
	Start    int64        `json:"t"`
	Duration int64        `json:"d"`
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func encodeCheck(c detector.Check) ([]byte, error) {
	sc := storedCheck{
		Component: c.Component, Status: c.Status, Base: c.Base,
		Since: unixNano(c.Since), BadSince: unixNano(c.BadSince),
		Runs:     [4]int{c.Runs.Down, c.Runs.Bad, c.Runs.Up, c.Runs.NotDown},
		Flapping: c.Flapping, FlapPercent: c.FlapPercent,
	}
	if n := len(c.Recent); n > 0 {
		last := c.Last
		sc.Last = &last
		sc.Recent = make([]shortResult, n-1)
		for i, r := range c.Recent[:n-1] {
			sc.Recent[i] = shortResult{r.Status(), r.Reason(), unixNano(r.Start()), int64(r.Duration())}
		}
	}
	return json.Marshal(sc)
}

func decodeCheck(name string, raw []byte) (detector.Check, error) {
	var sc storedCheck
	if err := json.Unmarshal(raw, &sc); err != nil {
		return detector.Check{}, fmt.Errorf("check %q: decode state: %w", name, err)
	}
	c := detector.Check{
		Spec:   detector.Spec{Name: name, Component: sc.Component},
		Status: sc.Status, Base: sc.Base, Since: fromUnixNano(sc.Since), BadSince: fromUnixNano(sc.BadSince),
		Runs:     detector.Runs{Down: sc.Runs[0], Bad: sc.Runs[1], Up: sc.Runs[2], NotDown: sc.Runs[3]},
		Flapping: sc.Flapping, FlapPercent: sc.FlapPercent,
	}
	if sc.Last == nil {
		return c, nil
	}
	c.Recent = make([]detector.Sample, 0, len(sc.Recent)+1)
	for _, r := range sc.Recent {
		c.Recent = append(c.Recent, detector.NewSample(fromUnixNano(r.Start), time.Duration(r.Duration), r.Status, r.Reason))
	}
	last := *sc.Last
	last.Start = last.Start.UTC()
	if !last.CertNotAfter.IsZero() {
		last.CertNotAfter = last.CertNotAfter.UTC()
	}
	c.Recent = append(c.Recent, detector.SampleOf(last))
	c.Last = last
	for i := len(c.Recent) - 1; i >= 0 && c.Recent[i].Status() == last.Status; i-- {
		c.Streak++
	}
	return c, nil
}

// checkArg describes one state of a publish, as checks_write.lua takes it.
type checkArg struct {
	Name       string `json:"n"`
	Component  string `json:"c"`
	ProbeState bool   `json:"ps,omitempty"`
}

// PublishChecks writes one writer pass of an owner's changed check states
// in one script run, each only if the owner's grant of its component is
// current; it deletes the states of the checks in remove (they left the
// config). Fenced components are reported, not an error.
func (s *Store) PublishChecks(ctx context.Context, b checkstate.Batch, remove []string) (_ checkstate.PublishResult, err error) {
	defer func() { err = s.count("publish_checks", err) }()
	if len(b.Checks) == 0 && len(remove) == 0 {
		return checkstate.PublishResult{}, nil
	}
	args := struct {
		Member string            `json:"member"`
		Grants map[string]string `json:"grants"`
		Checks []checkArg        `json:"checks,omitempty"`
		Remove []string          `json:"remove,omitempty"`
	}{Member: b.Member, Grants: tokenStrings(b.Tokens), Remove: remove}
	raw := make([]any, 0, len(b.Checks))
	for _, c := range b.Checks {
		enc, err := encodeCheck(c.State)
		if err != nil {
			return checkstate.PublishResult{}, fmt.Errorf("redisstore: publish check %q: %w", c.State.Name, err)
		}
		args.Checks = append(args.Checks, checkArg{c.State.Name, c.State.Component, c.ProbeState != nil})
		raw = append(raw, enc)
		if c.ProbeState != nil {
			raw = append(raw, c.ProbeState)
		}
	}
	argv := append([]any{s.p, mustJSON(args)}, raw...)
	res, err := s.s.checksWrite.Run(ctx, s.client, s.keys, argv...).StringSlice()
	if err != nil {
		return checkstate.PublishResult{}, fmt.Errorf("redisstore: publish checks: %w", err)
	}
	if len(res) == 0 {
		return checkstate.PublishResult{}, errors.New("redisstore: publish checks: empty reply")
	}
	s.countFenced("publish_checks", len(res)-1)
	return checkstate.PublishResult{Fenced: res[1:]}, nil
}

// ChecksSince reads the published states that changed after since (0:
// all of them), at most max (plus the rest of the last batch) per call.
func (s *Store) ChecksSince(ctx context.Context, since int64, max int) (_ checkstate.Changes, err error) {
	defer func() { err = s.count("read_checks", err) }()
	res, err := s.runRO(ctx, s.s.checksRead, nil, struct {
		Since int64 `json:"since"`
		Max   int   `json:"max"`
	}{since, max}).StringSlice()
	if err != nil {
		return checkstate.Changes{}, fmt.Errorf("redisstore: read checks: %w", err)
	}
	if len(res) < 4 || len(res)%2 != 0 {
		return checkstate.Changes{}, fmt.Errorf("redisstore: read checks: unexpected reply of %d values", len(res))
	}
	seq, err1 := strconv.ParseInt(res[0], 10, 64)
	upd, err2 := strconv.ParseFloat(res[3], 64)
	if err := errors.Join(err1, err2); err != nil {
		return checkstate.Changes{}, fmt.Errorf("redisstore: read checks: %w", err)
	}
	ch := checkstate.Changes{Seq: seq, More: res[1] == "1", Reset: res[2] == "1", Updated: msTime(int64(upd))}
	for i := 4; i < len(res); i += 2 {
		name, vantage := checkstate.SplitField(res[i])
		raw := res[i+1]
		if raw == "" {
			ch.Removed = append(ch.Removed, res[i])
			continue
		}
		c, err := decodeCheck(name, []byte(raw))
		if err != nil {
			// One bad state must neither hide the others nor stop every
			// later read: it is reported, and read past.
			ch.Undecodable = append(ch.Undecodable, res[i])
			continue
		}
		ch.Checks = append(ch.Checks, c)
		ch.Vantages = append(ch.Vantages, vantage)
	}
	return ch, nil
}

// LoadChecks reads the published states and prober states of the checks
// in fields (checkstate.Field: with vantages, the new owner's vantage's),
// for a new owner to continue from, by field; checks without a state are
// absent from the result.
func (s *Store) LoadChecks(ctx context.Context, fields []string) (_ map[string]checkstate.Check, err error) {
	defer func() { err = s.count("load_checks", err) }()
	out := make(map[string]checkstate.Check, len(fields))
	if len(fields) == 0 {
		return out, nil
	}
	var states, probes *redis.SliceCmd
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		states = p.HMGet(ctx, s.p+"checks", fields...)
		probes = p.HMGet(ctx, s.p+"probestate", fields...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: load checks: %w", err)
	}
	var errs []error
	for i, field := range fields {
		raw, ok := states.Val()[i].(string)
		if !ok {
			continue
		}
		name, _ := checkstate.SplitField(field)
		c, err := decodeCheck(name, []byte(raw))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cs := checkstate.Check{State: c}
		if ps, ok := probes.Val()[i].(string); ok {
			cs.ProbeState = []byte(ps)
		}
		out[field] = cs
	}
	if err := errors.Join(errs...); err != nil {
		return out, fmt.Errorf("redisstore: load checks: %w", err)
	}
	return out, nil
}

// Versions reads, in one round trip, what tells a reader whether to read
// again: the state's version, the checks' sequence number, when the store
// was created and Redis' clock.
func (s *Store) Versions(ctx context.Context) (_ incident.Versions, err error) {
	defer func() { err = s.count("version", err) }()
	res, err := s.run(ctx, s.s.poll, nil, struct{}{}).StringSlice()
	if err != nil {
		return incident.Versions{}, fmt.Errorf("redisstore: poll: %w", err)
	}
	if len(res) != 4 {
		return incident.Versions{}, fmt.Errorf("redisstore: poll: unexpected reply %q", res)
	}
	var n [4]int64
	for i, v := range res {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return incident.Versions{}, fmt.Errorf("redisstore: poll: unexpected reply %q", res)
		}
		n[i] = int64(f)
	}
	return incident.Versions{State: n[0], Checks: n[1], Created: msTime(n[2]), Now: msTime(n[3])}, nil
}
