package engine

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

// A replica whose lease lapsed while Redis was away wins its component
// back: it continues from what it saw meanwhile, not from the older state
// Redis holds, unless another replica probed the check since.
func TestAdoptContinuesFromTheFreshestState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		otherSaw  bool
		want      detector.CheckStatus
		incidents int
	}{
		{"nobody else probed it", false, detector.Down, 1},
		{"another replica probed it since", true, detector.Up, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.feed("web-home", "u")
			f.mr.SetError("LOADING Redis is loading the dataset in memory")
			f.feed("web-home", "DD")
			f.mr.SetError("")
			f.eng.Release([]string{"web"})
			if tc.otherSaw {
				other, err := New(Options{Store: f.store, Checks: f.store, Member: "r2", Registry: prometheus.NewRegistry(),
					Logger: slog.New(slog.DiscardHandler), Now: f.clk.now})
				if err != nil {
					t.Fatal(err)
				}
				other.Configure(f.cfg)
				f.own(other, "r2", "web")
				for range 2 {
					other.Record(context.Background(), f.cfg.Checks[0], probe.Result{Status: probe.StatusUp, Start: f.clk.now()})
					f.clk.add(10 * time.Second)
				}
				other.flush(context.Background())
			}
			f.own(f.eng, "r1", "web")
			f.eng.flush(context.Background())
			if ch, _ := f.eng.det.Check("web-home"); ch.Status != tc.want {
				t.Errorf("web-home continues %s, want %s", ch.Status, tc.want)
			}
			if st := f.state(t); len(st.Incidents) != tc.incidents {
				t.Errorf("%d incidents, want %d: %+v", len(st.Incidents), tc.incidents, st)
			}
		})
	}
}
