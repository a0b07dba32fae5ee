package status

import (
	"context"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/uptime"
)

// UptimeReader reads the daily uptime buckets; redisstore.Store is one.
type UptimeReader interface {
	ComponentUptime(ctx context.Context, ids []string, days int, now time.Time, loc *time.Location) (map[string][]uptime.ComponentDay, error)
}

// uptimeEvery is how often the uptime history is read: the bars move by the
// minute at most.
const uptimeEvery = time.Minute

// readUptime reads the history of every component when the last attempt
// is older than uptimeEvery (a twelfth of it during the first uptimeEvery,
// so that today's bars fill soon after a start), the day has turned since
// the last read, or the config changed. It reports whether it read. A
// failure keeps the last history, is logged once and retried at the same
// pace; it does not make the status stale (the incidents are current).
func (r *Refresher) readUptime(ctx context.Context, cfg *config.Config, now time.Time) bool {
	every := uptimeEvery
	if now.Sub(r.epoch) < uptimeEvery {
		every = uptimeEvery / 12
	}
	loc := r.location(cfg)
	due := cfg != r.daysCfg || now.Sub(r.daysTried) >= every ||
		!uptime.Midnight(now, loc).Equal(uptime.Midnight(r.daysRead, loc))
	if r.Uptime == nil || !due {
		return false
	}
	r.daysTried = now
	ids := make([]string, len(cfg.Components))
	for i, c := range cfg.Components {
		ids[i] = c.ID
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	days, err := r.Uptime.ComponentUptime(ctx, ids, uptime.Days, now, loc)
	switch {
	case err != nil && !r.daysFail:
		r.daysFail = true
		r.Logger.Warn("status: uptime history unreadable, showing the last one read", "error", err)
	case err == nil && r.daysFail:
		r.daysFail = false
		r.Logger.Info("status: uptime history readable again")
	}
	if err != nil {
		return false
	}
	r.days, r.daysRead, r.daysCfg = days, now, cfg
	return true
}

// location is the page's time zone (UTC if it does not load), looked up
// once per config.
func (r *Refresher) location(cfg *config.Config) *time.Location {
	if cfg != r.locCfg {
		r.loc, r.locCfg = time.UTC, cfg
		if loc, err := time.LoadLocation(cfg.Page.TimeZone); err == nil {
			r.loc = loc
		}
	}
	return r.loc
}
