package status

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tocsin/tocsin/detector"
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

// listPartBytes is the size at which the unpaged list starts a new part:
// the list is gathered, hashed and compressed part by part, never copied
// into one slice (116 MB at 50,000 checks, BenchmarkCheckPage50k).
const listPartBytes = 64 << 10

// checkBodies serves /api/v1/checks, its pages and /api/v1/checks/{name}
// from the states the snapshot was built from, encoding each on its first
// request and keeping it for the snapshot's lifetime. Encoding at build
// kept every check's object in memory, from one snapshot to the next:
// about 2.3 kB a check with a full "recent", the largest part of a
// 50,000-check replica's heap (docs/benchmarks.md), for documents a large
// estate reads a page at a time if at all.
type checkBodies struct {
	// b encodes: the config, the time zone, the scrubbing and, in
	// b.in.Checks and b.in.CheckVantages, the snapshot's own copy of the
	// slices of states, which do not change once published.
	b        *builder
	state    []int            // per configured check, its state's index in b.in.Checks; -1: none
	vantages map[string][]int // with vantages, each check's states by vantage (statesByConfig)
	names    map[string]int   // config index by check name, shared by the snapshots of one config
	print    uint64           // the configured check names in order, hashed: cursors name it (checkpage.go)
	head     []byte           // the envelopes' head: {"generated_at":…,"stale":…
	enc      *encoder

	list  lazyBody
	mu    sync.Mutex // guards docs and pages
	docs  map[string]*lazyBody
	pages map[checkPageKey]*lazyBody
}

type lazyBody struct {
	once sync.Once
	b    *body
}

// appendObject appends the object of the configured check i; with
// limited, its "recent" keeps only the newest listRecent results.
func (c *checkBodies) appendObject(dst []byte, i int, limited bool) []byte {
	st := &detector.Check{Status: detector.Unknown}
	if j := c.state[i]; j >= 0 {
		st = c.b.in.Checks[j]
	}
	cfg := c.b.cfg.Checks[i]
	var vs []int
	if c.vantages != nil {
		vs = c.vantages[cfg.Name]
	}
	dst, cut := c.b.appendCheckCut(dst, cfg, *st, vs)
	if limited && cut >= 0 {
		dst = append(dst[:cut], "]}"...) // closes the cut "recent" and the object
	}
	return dst
}

// get returns the body of /api/v1/checks/{name}, making it on first use.
// Concurrent first requests wait for one encoding.
func (c *checkBodies) get(name string) (*body, bool) {
	if c == nil {
		return nil, false
	}
	i, ok := c.names[name]
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
		data := append(slices.Clip(c.head), `,"check":`...)
		data = append(c.appendObject(data, i, false), '}')
		lb.b = c.enc.newBody(data, contentTypeJSON, false)
	})
	return lb.b, true
}

// listBody returns the body of the unpaged list, making it on first use.
func (c *checkBodies) listBody() *body {
	c.list.once.Do(func() { c.list.b = c.encodeList() })
	return c.list.b
}

// encodeList encodes the unpaged list: the head, every check's object in
// config order, in parts of about listPartBytes.
func (c *checkBodies) encodeList() *body {
	var parts [][]byte
	part := append(slices.Clip(c.head), `,"checks":[`...)
	for i := range c.b.cfg.Checks {
		if i > 0 {
			part = append(part, ',')
		}
		part = c.appendObject(part, i, false)
		if len(part) >= listPartBytes {
			parts = append(parts, part)
			part = make([]byte, 0, listPartBytes+listPartBytes/4)
		}
	}
	parts = append(parts, append(part, "]}"...))
	return c.enc.newPartsBody(parts, contentTypeJSON)
}

// checkList prepares /api/v1/checks for encoding on request: which state
// each configured check shows, and the envelope's head.
func (b *builder) checkList(ctx context.Context, enc *encoder, prev *Snapshot) (*checkBodies, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("status: build: %w", err)
	}
	checks := b.cfg.Checks
	out := &checkBodies{enc: enc, docs: map[string]*lazyBody{}, pages: map[checkPageKey]*lazyBody{}}
	if prev != nil && prev.cfg == b.cfg && prev.checks != nil {
		out.names, out.print = prev.checks.names, prev.checks.print // same config: same checks in the same order
	} else {
		out.names = make(map[string]int, len(checks))
		for i, c := range checks {
			out.names[c.Name] = i
		}
		out.print = fingerprint(checks)
	}
	out.state, out.vantages = b.statesByConfig(out.names)
	out.head = append(append(append([]byte(`{"generated_at":`), b.quotedTime(b.generatedAt())...), `,"stale":`...),
		strconv.FormatBool(b.in.Stale)...)
	// The Refresher reorders and replaces the slices' elements after the
	// build (checkset.go); the states themselves it never changes.
	eb := &builder{cfg: b.cfg, loc: b.loc, base: b.base, scrub: b.scrub}
	eb.in.Checks, eb.in.CheckVantages = slices.Clone(b.in.Checks), slices.Clone(b.in.CheckVantages)
	out.b = eb
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
