package status

import (
	"context"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/uptime"
)

// UptimeReader reads the daily uptime buckets; redisstore.Store is one.
type UptimeReader interface {
	// ComponentUptimeAt reads the days days ending on slot's day, as of
	// slot: every replica that asks for the same slot gets the same
	// history, though the buckets keep growing between their reads. It
	// may leave out days without data.
	ComponentUptimeAt(ctx context.Context, slot time.Time, ids []string, days int, loc *time.Location) (map[string][]uptime.ComponentDay, error)
}

// uptimeEvery is how often the uptime history is read: the bars move by the
// minute at most.
const uptimeEvery = time.Minute

// readUptime reads the history of every component once per slot of
// uptimeEvery (a twelfth of it while the store is younger than
// uptimeEvery, so that today's bars fill soon after a first start), and
// when the config changed. Slots are cut from the clock alone, so every
// replica asks for the same ones and shows the same bars. It reports
// whether it read. A failure keeps the last history, is logged once and
// retried in the next slot; it does not make the status stale (the
// incidents are current).
func (r *Refresher) readUptime(ctx context.Context, cfg *config.Config, now time.Time) bool {
	every := uptimeEvery
	if !r.created.IsZero() && now.Sub(r.created) < uptimeEvery {
		every = uptimeEvery / 12
	}
	slot := now.Truncate(every)
	loc := r.location(cfg)
	read := cfg == r.daysCfg && slot.Equal(r.daysSlot)
	failed := cfg == r.daysCfg && r.daysFail && slot.Equal(r.daysTried)
	if r.o.Uptime == nil || read || failed {
		return false
	}
	r.daysTried = slot
	ids := make([]string, len(cfg.Components))
	for i, c := range cfg.Components {
		ids[i] = c.ID
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	days, err := r.o.Uptime.ComponentUptimeAt(ctx, slot, ids, uptime.Days, loc)
	switch {
	case err != nil && !r.daysFail:
		r.daysFail = true
		r.o.Logger.Warn("status: uptime history unreadable, showing the last one read", "error", err)
	case err == nil && r.daysFail:
		r.daysFail = false
		r.o.Logger.Info("status: uptime history readable again")
	}
	if err != nil {
		return false
	}
	r.days, r.daysRead, r.daysCfg, r.daysSlot = days, now, cfg, slot
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
