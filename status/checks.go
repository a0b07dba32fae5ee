package status

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

// The /api/v1/checks documents are tocsin's own:
//
//	/api/v1/checks         {"generated_at", "stale", "checks": [check, ...]}
//	/api/v1/checks?limit=N[&cursor=C]
//	                       {"generated_at", "stale", "checks": [check, ...],
//	                        "next_cursor" (absent on the last page)}
//	/api/v1/checks/{name}  {"generated_at", "stale", "check": check}
//
// with the checks in config order; checkjson.go encodes a check. A page
// (checkpage.go) keeps only the newest listRecent results of each check's
// "recent"; the unpaged list and the single check keep them all. They carry
// no secret: no headers, no bodies, no credentials; a target URL loses its
// userinfo, query and fragment.

// ctxEvery is how many checks are encoded between two looks at ctx.
const ctxEvery = 1024

// checkBodies holds /api/v1/checks, encoded at build, and serves
// /api/v1/checks/{name} from it: a check's document is its object in the
// list inside an envelope, made on the first request for it and kept for
// the snapshot's lifetime.
type checkBodies struct {
	// list is a body of parts: the envelope's head, each check's object
	// (after a comma but for the first), then "]}". The objects are shared
	// with the next snapshot where the check does not change.
	list  *body
	frags [][]byte       // the objects' parts: list.parts[1 : len-1]
	keys  []checkKey     // what each object was encoded from
	cuts  []int          // where each frag is cut for the paged list, -1 if not (appendCheckCut)
	names map[string]int // config index by check name, shared by the snapshots of one config
	print uint64         // the configured check names in order, hashed: cursors name it (checkpage.go)
	head  []byte         // the single-check envelope up to the object
	enc   *encoder

	mu    sync.Mutex // guards docs and pages
	docs  map[string]*lazyBody
	pages map[checkPageKey]*lazyBody
}

type lazyBody struct {
	once sync.Once
	b    *body
}

// object returns a check's object; c may be nil.
func (c *checkBodies) object(name string) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	i, ok := c.names[name]
	if !ok {
		return nil, false
	}
	if i > 0 {
		return c.frags[i][1:], true // without the comma
	}
	return c.frags[i], true
}

// get returns the body of /api/v1/checks/{name}, making it on first use.
// Concurrent first requests wait for one encoding.
func (c *checkBodies) get(name string) (*body, bool) {
	obj, ok := c.object(name)
	if !ok {
		return nil, false
	}
	c.mu.Lock()
	lb := c.docs[name]
	if lb == nil {
		lb = &lazyBody{}
		c.docs[name] = lb
	}
	c.mu.Unlock()
	lb.once.Do(func() {
		data := make([]byte, 0, len(c.head)+len(obj)+1)
		data = append(append(append(data, c.head...), obj...), '}')
		lb.b = c.enc.newBody(data, contentTypeJSON, false)
	})
	return lb.b, true
}

// checkKey is what a check's object depends on besides the config, which
// fixes the check's settings, the time zone and the secrets scrubbed. Every
// result has its own start time, so a new one changes last.
type checkKey struct {
	status       detector.CheckStatus
	since        int64 // Since in Unix ns
	last         int64 // Last.Start
	first        int64 // Recent[0].Start
	lastStatus   probe.Status
	lastDuration time.Duration
	recent       int
	// vantages folds, with vantages, every vantage's state shown under
	// "vantages" (its name and key): zero without.
	vantages uint64
}

func keyOf(st *detector.Check) checkKey {
	k := checkKey{status: st.Status, since: nanos(st.Since), last: nanos(st.Last.Start),
		lastStatus: st.Last.Status, lastDuration: st.Last.Duration, recent: len(st.Recent)}
	if len(st.Recent) > 0 {
		k.first = nanos(st.Recent[0].Start())
	}
	return k
}

// vantagesKey folds the keys of the states at vs (indexes in
// Inputs.Checks) and their vantages into one number: FNV-1a over them, so
// a check's object is encoded again only when a vantage's state changed,
// came or went. 0 for none.
func (b *builder) vantagesKey(vs []int) uint64 {
	if len(vs) == 0 {
		return 0
	}
	h := fnv.New64a()
	var buf [8]byte
	word := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		_, _ = h.Write(buf[:])
	}
	for _, j := range vs {
		k := keyOf(&b.in.Checks[j])
		_, _ = h.Write([]byte(b.in.CheckVantages[j] + "\x00" + string(k.status) + "\x00" + string(k.lastStatus) + "\x00"))
		for _, v := range []int64{k.since, k.last, k.first, int64(k.lastDuration), int64(k.recent)} {
			word(uint64(v))
		}
	}
	return max(h.Sum64(), 1)
}

// nanos is t in Unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// checkList encodes /api/v1/checks. A check whose state did not change
// since prev, under the same config, keeps prev's object rather than being
// encoded again: between two rebuilds only a few checks have a new result.
func (b *builder) checkList(ctx context.Context, enc *encoder, prev *Snapshot) (*checkBodies, error) {
	checks := b.cfg.Checks
	var old *checkBodies
	if prev != nil && prev.cfg == b.cfg {
		old = prev.checks // same config: same checks in the same order
	}
	out := &checkBodies{enc: enc, docs: map[string]*lazyBody{}, pages: map[checkPageKey]*lazyBody{},
		keys: make([]checkKey, len(checks)), cuts: make([]int, len(checks))}
	if old != nil {
		out.names, out.print = old.names, old.print
	} else {
		out.names = make(map[string]int, len(checks))
		for i, c := range checks {
			out.names[c.Name] = i
		}
		out.print = fingerprint(checks)
	}
	state, vantages := b.statesByConfig(out.names)
	head := append(append(append([]byte(`{"generated_at":`), b.quotedTime(b.generatedAt())...), `,"stale":`...),
		strconv.FormatBool(b.in.Stale)...)
	parts := make([][]byte, 0, len(checks)+2)
	parts = append(parts, append(slices.Clip(head), `,"checks":[`...))
	unknown := detector.Check{Status: detector.Unknown}
	var scratch []byte
	for i, c := range checks {
		if i%ctxEvery == ctxEvery-1 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("status: build: %w", err)
			}
		}
		st := &unknown
		if j := state[i]; j >= 0 {
			st = &b.in.Checks[j]
		}
		var vs []int
		if vantages != nil {
			vs = vantages[c.Name]
		}
		out.keys[i] = keyOf(st)
		out.keys[i].vantages = b.vantagesKey(vs)
		if old != nil && old.keys[i] == out.keys[i] {
			parts = append(parts, old.frags[i])
			out.cuts[i] = old.cuts[i]
			continue
		}
		scratch = scratch[:0]
		if i > 0 {
			scratch = append(scratch, ',')
		}
		scratch, out.cuts[i] = b.appendCheckCut(scratch, c, *st, vs)
		parts = append(parts, bytes.Clone(scratch))
	}
	parts = append(parts, []byte("]}"))
	out.frags = parts[1 : len(parts)-1]
	out.head = append(head, `,"check":`...)
	out.list = enc.newPartsBody(parts, contentTypeJSON)
	return out, nil
}

// statesByConfig returns, for each configured check, the index of its state
// in Inputs.Checks, or -1 when it has none. With vantages, vantages maps
// each check to its states from the vantages that probe it (config) and
// are live (the store's view), ordered by vantage, and state is the worst
// of them (the first of equals): states a vantage left behind when it
// died or stopped probing the check are not shown. Nil without vantages,
// and then nothing else changes: a check object keeps its shape.
func (b *builder) statesByConfig(names map[string]int) (state []int, vantages map[string][]int) {
	checks := b.cfg.Checks
	state = make([]int, len(checks))
	for i := range state {
		state[i] = -1
	}
	if len(b.cfg.Vantages) > 0 && len(b.in.CheckVantages) == len(b.in.Checks) {
		return b.vantageStates(names, state)
	}
	for j, c := range b.in.Checks {
		if i, ok := names[c.Name]; ok {
			state[i] = j
		}
	}
	for i, c := range checks {
		if k := names[c.Name]; state[i] < 0 && k != i {
			state[i] = state[k] // a repeated name: names has the last one
		}
	}
	return state, nil
}

// vantageStates is statesByConfig with vantages.
func (b *builder) vantageStates(names map[string]int, state []int) ([]int, map[string][]int) {
	var live map[string]bool
	if b.in.State.LiveVantages != nil {
		live = make(map[string]bool, len(b.in.State.LiveVantages))
		for _, v := range b.in.State.LiveVantages {
			live[v] = true
		}
	}
	vantages := map[string][]int{}
	for j, c := range b.in.Checks {
		i, ok := names[c.Name]
		v := b.in.CheckVantages[j]
		if !ok || !b.cfg.Probes(v, b.cfg.Checks[i]) || live != nil && !live[v] {
			continue
		}
		vantages[c.Name] = append(vantages[c.Name], j)
	}
	for name, js := range vantages {
		slices.SortFunc(js, func(x, y int) int { return strings.Compare(b.in.CheckVantages[x], b.in.CheckVantages[y]) })
		// Worst first; a known state before an unknown one.
		rank := func(j int) int {
			if st := b.in.Checks[j].Status; st != "" && st != detector.Unknown {
				return st.Rank()
			}
			return -1
		}
		worst := js[0]
		for _, j := range js[1:] {
			if rank(j) > rank(worst) {
				worst = j
			}
		}
		state[names[name]] = worst
	}
	for i, c := range b.cfg.Checks {
		if k := names[c.Name]; state[i] < 0 && k != i {
			state[i] = state[k]
		}
	}
	return state, vantages
}
