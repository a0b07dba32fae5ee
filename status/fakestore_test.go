package status

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/tocsin/tocsin/checkstate"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
)

// fakeStore is an in-memory StoreReader for Refresher tests. It keeps the
// state and the check states as the engine publishes them to Redis: every
// publish is one change under the next sequence number, and ChecksSince
// answers as checks_read.lua does. Its clock (Versions.Now, and the times
// it stamps on what is written) moves only when a test moves it.
type fakeStore struct {
	mu        sync.Mutex
	state     incident.State
	version   int64
	created   time.Time // Versions.Created and State.CreatedAt
	now       time.Time // the store's clock
	err       error     // fails every read
	loadErr   error     // fails Load only
	checksErr error     // fails ChecksSince only
	loads     int

	seq      int64
	checks   map[string]detector.Check // the published states
	changed  map[string]int64          // sequence number of each name's last change, removed ones too
	checksAt time.Time                 // when the checks were last published
	sinces   []int64                   // the since of every ChecksSince call
}

var _ StoreReader = (*fakeStore)(nil)

// newFakeStore holds st, created 100 hours before t0, its clock at t0.
func newFakeStore(st incident.State) *fakeStore {
	return &fakeStore{state: st, created: t0.Add(-100 * time.Hour), now: t0,
		checks: map[string]detector.Check{}, changed: map[string]int64{}}
}

func (f *fakeStore) Versions(context.Context) (incident.Versions, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return incident.Versions{}, f.err
	}
	return incident.Versions{State: f.version, Checks: f.seq, Created: f.created, Now: f.now}, nil
}

func (f *fakeStore) Load(context.Context, int) (incident.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := cmp.Or(f.err, f.loadErr); err != nil {
		return incident.State{}, err
	}
	f.loads++
	st := f.state
	st.Version, st.CreatedAt = f.version, f.created
	st.Components = maps.Clone(f.state.Components)
	st.Incidents = slices.Clone(f.state.Incidents)
	return st, nil
}

// ChecksSince returns up to most of the states changed after since, plus
// the rest of the last change read, in the order of their changes; since
// ahead of the store (it lost its data) reads everything, with Reset set.
func (f *fakeStore) ChecksSince(_ context.Context, since int64, most int) (checkstate.Changes, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sinces = append(f.sinces, since)
	if err := cmp.Or(f.err, f.checksErr); err != nil {
		return checkstate.Changes{}, err
	}
	ch := checkstate.Changes{Seq: since, Updated: f.checksAt}
	if since > f.seq {
		since, ch.Seq, ch.Reset = 0, 0, true
	}
	var names []string
	for name, seq := range f.changed {
		if seq > since {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(f.changed[a], f.changed[b]), cmp.Compare(a, b))
	})
	if most > 0 && len(names) > most {
		// Never split one change: stop after the rest of the last one read.
		n := most
		for n < len(names) && f.changed[names[n]] == f.changed[names[most-1]] {
			n++
		}
		names, ch.More = names[:n], n < len(names)
	}
	for _, name := range names {
		ch.Seq = f.changed[name]
		if c, ok := f.checks[name]; ok {
			ch.Checks = append(ch.Checks, c)
		} else {
			ch.Removed = append(ch.Removed, name)
		}
	}
	return ch, nil
}

// set replaces the state and bumps the version, as a transition does.
func (f *fakeStore) set(st incident.State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st.UpdatedAt = f.now
	f.state = st
	f.version++
}

// publish writes one owner's pass: the states of checks and the removal of
// the checks in removed, under one new sequence number.
func (f *fakeStore) publish(checks []detector.Check, removed ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	for _, c := range checks {
		f.checks[c.Name], f.changed[c.Name] = c, f.seq
	}
	for _, name := range removed {
		delete(f.checks, name)
		f.changed[name] = f.seq
	}
	f.checksAt = f.now
}

// lose empties the store, as a Redis that lost its data; the store's
// creation time is the present one unless keepCreated.
func (f *fakeStore) lose(keepCreated bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state, f.version, f.seq, f.checksAt = incident.State{}, 0, 0, time.Time{}
	clear(f.checks)
	clear(f.changed)
	if !keepCreated {
		f.created = f.now
	}
}

// advance moves the store's clock on.
func (f *fakeStore) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func (f *fakeStore) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeStore) setLoadErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loadErr = err
}

func (f *fakeStore) setChecksErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checksErr = err
}

// loadCount counts successful Loads.
func (f *fakeStore) loadCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loads
}

// checkReads returns the since of every ChecksSince call so far.
func (f *fakeStore) checkReads() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sinces)
}
