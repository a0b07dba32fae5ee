package detector

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tocsin/tocsin/config"
)

// burstSchedule is results a check gets: some steady up results, then
// bursts of 2-8 down and up results in turn for at least flapFor results,
// then up for good.
type burstSchedule struct {
	results string
	// The bursts are results[warm:steady]; from steady on all are up (the
	// last up burst, if the bursts end with one, and 21 more).
	warm, steady int
	// firstDown and firstUp are the first bursts' lengths: detection is
	// bounded by them.
	firstDown, firstUp int
}

func newBurstSchedule(rng *rand.Rand, flapFor int) burstSchedule {
	var b strings.Builder
	s := burstSchedule{warm: rng.IntN(25)}
	b.WriteString(strings.Repeat("u", s.warm))
	down := true
	for b.Len()-s.warm < flapFor {
		n := 2 + rng.IntN(7)
		switch {
		case s.firstDown == 0:
			s.firstDown = n
		case s.firstUp == 0:
			s.firstUp = n
		}
		b.WriteString(strings.Repeat(map[bool]string{true: "D", false: "u"}[down], n))
		down = !down
	}
	b.WriteString(strings.Repeat("u", historySize))
	s.results = b.String()
	s.steady = strings.LastIndexByte(s.results, 'D') + 1
	return s
}

// TestFlapBursts (issue 13, item 10): a check alternating in random bursts
// of 2-8 results, whatever its thresholds, is held from its raw results
// early enough that its component goes back to operational at most once
// before the bursts end (so its incident sees at most one monitoring);
// once flapping it stays so until the bursts end; when it is steady it is
// let go, at least 11 and at most 20 up results later, and is up. The
// component's status and detail, whose changes write incident updates,
// change at most 4 times from the first failure on: failing (the incident
// opens), operational once (monitoring), held (~flapping: investigating
// again), operational when steady (monitoring, then resolved). The seeds
// are fixed; a failure names its seed and schedule.
func TestFlapBursts(t *testing.T) {
	t.Parallel()
	const seeds = 400
	for _, th := range []struct{ f, s int }{{3, 2}, {2, 2}, {1, 1}, {2, 1}, {5, 3}, {3, 5}} {
		t.Run(fmt.Sprintf("failure_threshold %d success_threshold %d", th.f, th.s), func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(seeds) {
				rng := rand.New(rand.NewPCG(seed, uint64(th.f*10+th.s)))
				s := newBurstSchedule(rng, 12+rng.IntN(120))
				if msg := runBursts(s, th.f, th.s); msg != "" {
					t.Fatalf("seed %d, results %s (bursts from %d to %d): %s", seed, s.results, s.warm, s.steady, msg)
				}
			}
		})
	}
}

// runBursts feeds s to a fresh detector and returns what went wrong, if
// anything.
func runBursts(s burstSchedule, f, succ int) string {
	d := New()
	d.Configure([]Spec{{Name: "c", Component: "web", Impact: MajorOutage, FailureThreshold: f, SuccessThreshold: succ}})
	var (
		recoveries, changes int
		flappedAt           = -1
		releasedAt          = -1
		last                = Verdict{Status: Operational, Known: true}
		failed              bool
	)
	for i, r := range seq(s.results) {
		d.Observe("c", r, r.Start)
		c, _ := d.Check("c")
		v := d.Component("web")
		if v.Status != last.Status || v.Detail() != last.Detail() {
			if failed || v.Status != Operational {
				changes++
			}
			if v.Status == Operational && failed && i < s.steady {
				recoveries++
			}
			failed = failed || v.Status != Operational
		}
		last = v
		switch {
		case c.Flapping && flappedAt < 0:
			flappedAt = i
		case !c.Flapping && flappedAt >= 0 && i < s.steady:
			return fmt.Sprintf("let go at result %d, while the bursts go on", i)
		case !c.Flapping && flappedAt >= 0 && releasedAt < 0:
			releasedAt = i
		}
	}
	// Early: a first failure long enough to confirm and the recovery after
	// it are all the bursts it takes; the second bad result after them (the
	// first, with a failure_threshold of 1) is held.
	if bound := s.warm + s.firstDown + s.firstUp + min(f, 2) - 1; s.firstDown >= f && s.firstUp >= succ && s.steady > bound &&
		(flappedAt < 0 || flappedAt > bound) {
		return fmt.Sprintf("flapping from result %d, want by %d", flappedAt, bound)
	}
	steadyFor := releasedAt - s.steady + 1
	c, _ := d.Check("c")
	switch {
	case recoveries > 1:
		return fmt.Sprintf("operational %d times before the bursts ended", recoveries)
	case changes > 4:
		return fmt.Sprintf("%d changes of the component's status or detail from the first failure on, want at most 4", changes)
	case c.Flapping || c.Status != Up || last.Status != Operational:
		return fmt.Sprintf("after %d steady results: flapping %v, status %s, component %s", historySize, c.Flapping, c.Status, last.Status)
	case flappedAt >= 0 && (steadyFor < 11 || steadyFor > 20):
		return fmt.Sprintf("let go after %d steady results, want 11 to 20", steadyFor)
	}
	return ""
}

// TestFlapDefaultsMatchConfig: config's defaults for the flap thresholds
// are the detector's (config cannot import detector, so the values are
// written in both).
func TestFlapDefaultsMatchConfig(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Defaults; d.FlapLowThreshold != DefaultFlapLow || d.FlapHighThreshold != DefaultFlapHigh {
		t.Errorf("config defaults %v/%v, detector defaults %v/%v", d.FlapLowThreshold, d.FlapHighThreshold, DefaultFlapLow, DefaultFlapHigh)
	}
}
