package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tocsin/tocsin/schedule"
)

// target is the local HTTP server every check points at: /t/<i> for
// tocsin's check i, /b/<i> for the bare loop's. It records each hit's time,
// so the harness sees lag, missed and doubled runs from outside.
type target struct {
	srv  *http.Server
	ln   net.Listener
	mu   sync.Mutex
	hits map[byte][]hit // by kind: 't' tocsin, 'b' bare loop
}

type hit struct {
	idx int32
	at  int64 // UnixNano
}

func startTarget() (*target, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &target{ln: ln, hits: map[byte][]hit{}}
	t.srv = &http.Server{
		Handler:           http.HandlerFunc(t.serve),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       5 * time.Second,
	}
	go func() { _ = t.srv.Serve(ln) }()
	return t, nil
}

func (t *target) addr() string { return t.ln.Addr().String() }

func (t *target) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now().UnixNano()
	p := r.URL.Path
	if len(p) > 3 && p[0] == '/' && p[2] == '/' && (p[1] == 't' || p[1] == 'b') {
		if i, err := strconv.Atoi(p[3:]); err == nil {
			t.mu.Lock()
			t.hits[p[1]] = append(t.hits[p[1]], hit{idx: int32(i), at: now})
			t.mu.Unlock()
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok\n"))
}

// take returns and forgets the hits of kind.
func (t *target) take(kind byte) []hit {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.hits[kind]
	delete(t.hits, kind)
	return h
}

// snapshot returns a copy of the hits of kind so far.
func (t *target) snapshot(kind byte) []hit {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.hits[kind])
}

func (t *target) count(kind byte) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.hits[kind])
}

func (t *target) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		_ = t.srv.Close()
	}
}

// checkName is the name of generated check i; the scheduler's start offset
// derives from it.
func checkName(i int) string { return "chk-" + leftPad(i, 6) }

func componentName(i int) string { return "cmp-" + leftPad(i, 5) }

func leftPad(i, n int) string {
	s := strconv.Itoa(i)
	if len(s) < n {
		s = strings.Repeat("0", n-len(s)) + s
	}
	return s
}

// hitStats is what the target saw of one tocsin run.
type hitStats struct {
	// plan names the schedule the hits were judged against: "spread"
	// (each check at origin + its offset, as schedule.spread gives it) or
	// "all at once" (every check at origin), whichever fits the first
	// interval's hits better: at start-up, the scheduler may spread the
	// first runs or start them all at once.
	plan         string
	t0           time.Time // the plan's origin
	firstHit     time.Time
	lastFirstHit time.Time // when the last check got its first hit
	neverHit     int       // checks with no hit at all
	missFirst    int       // checks not hit within the first interval (+ lagLimit)
	doubled      int       // consecutive hits of one check less than half an interval apart
	missedRuns   int       // runs missing between consecutive hits (gap > 1.5 intervals)
	lagFirst     []float64 // seconds late against the plan, first interval
	lagAll       []float64 // the same, every run
	// Across the reload: the gap between each check's last hit before it
	// and first hit after it, minus the interval.
	reloadExtra  []float64
	reloadGapped int // checks whose gap across the reload exceeds the interval by more than lagLimit (or with no hit after it)
	// The same across a moment one interval before the reload, without
	// one: how much consecutive gaps vary anyway.
	controlExtra  []float64
	controlGapped int
	postReload    int // hits in the interval after the reload
}

// lagLimit is the lag target; a check whose first run is later
// than this past the end of the first interval missed it.
const lagLimit = 250 * time.Millisecond

// analyse reads the hits of n checks at interval: the plan's origin, the
// lag of each hit against the plan (origin + offset + k intervals),
// first-interval coverage, doubled or missed runs, and the gap across the
// reload (if reloadAt is set).
func analyse(hits []hit, n int, interval time.Duration, reloadAt, controlAt time.Time) hitStats {
	per := make([][]int64, n)
	for _, h := range hits {
		if int(h.idx) < n && h.idx >= 0 {
			per[h.idx] = append(per[h.idx], h.at)
		}
	}
	var st hitStats
	spreadOff := make([]int64, n)
	zero := make([]int64, n)
	for i := range per {
		slices.Sort(per[i])
		spreadOff[i] = int64(schedule.Spread(checkName(i), interval))
		if len(per[i]) == 0 {
			st.neverHit++
			continue
		}
		if f := time.Unix(0, per[i][0]); st.firstHit.IsZero() || f.Before(st.firstHit) {
			st.firstHit = f
		}
		if f := time.Unix(0, per[i][0]); f.After(st.lastFirstHit) {
			st.lastFirstHit = f
		}
	}
	if st.firstHit.IsZero() {
		return st
	}
	origin := func(off []int64) int64 {
		t0 := int64(0)
		for i, ts := range per {
			if len(ts) > 0 && (t0 == 0 || ts[0]-off[i] < t0) {
				t0 = ts[0] - off[i]
			}
		}
		return t0
	}
	firstLagP50 := func(off []int64, t0 int64) float64 {
		var l []float64
		for i, ts := range per {
			if len(ts) > 0 {
				l = append(l, float64(ts[0]-t0-off[i]))
			}
		}
		return quantile(l, 0.5)
	}
	off, t0, plan := spreadOff, origin(spreadOff), "spread"
	if z := origin(zero); firstLagP50(zero, z) < firstLagP50(spreadOff, t0) {
		off, t0, plan = zero, z, "all at once"
	}
	st.plan, st.t0 = plan, time.Unix(0, t0)

	iv := int64(interval)
	firstEnd := t0 + iv + int64(lagLimit)
	rl := reloadAt.UnixNano()
	for i, ts := range per {
		if len(ts) == 0 || ts[0] >= firstEnd {
			st.missFirst++
		}
		for j, at := range ts {
			rel := at - t0 - off[i]
			k := (rel + iv/2) / iv
			if rel < -iv/2 {
				k = -1
			}
			lag := float64(rel-k*iv) / 1e9
			st.lagAll = append(st.lagAll, lag)
			if k == 0 {
				st.lagFirst = append(st.lagFirst, lag)
			}
			if j > 0 {
				gap := at - ts[j-1]
				switch {
				case gap < iv/2:
					st.doubled++
				case gap > iv+iv/2:
					st.missedRuns += int((gap+iv/2)/iv) - 1
				}
			}
		}
		if reloadAt.IsZero() {
			continue
		}
		j, _ := slices.BinarySearch(ts, rl)
		for _, at := range ts[j:] {
			if at < rl+iv {
				st.postReload++
			}
		}
		gapAcross(ts, rl, iv, &st.reloadExtra, &st.reloadGapped)
		if !controlAt.IsZero() {
			gapAcross(ts, controlAt.UnixNano(), iv, &st.controlExtra, &st.controlGapped)
		}
	}
	return st
}

// gapAcross notes the gap between the last hit before at and the first
// after it, minus the interval, and counts it when it exceeds lagLimit or
// no hit follows.
func gapAcross(ts []int64, at, iv int64, extras *[]float64, gapped *int) {
	j, _ := slices.BinarySearch(ts, at)
	switch {
	case j == len(ts):
		*gapped++
	case j > 0:
		extra := float64(ts[j]-ts[j-1]-iv) / 1e9
		*extras = append(*extras, extra)
		if extra > lagLimit.Seconds() {
			*gapped++
		}
	}
}

// hitsBetween counts hits in [from, to).
func hitsBetween(hits []hit, from, to time.Time) int {
	a, b := from.UnixNano(), to.UnixNano()
	c := 0
	for _, h := range hits {
		if h.at >= a && h.at < b {
			c++
		}
	}
	return c
}

// quantile of xs (sorted in place), nearest rank; NaN-free: 0 for none.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	i := int(q*float64(len(xs))+0.5) - 1
	i = min(max(i, 0), len(xs)-1)
	return xs[i]
}
