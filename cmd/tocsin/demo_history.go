package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/redisstore"
	"github.com/tocsin/tocsin/uptime"
)

// seedDemoHistory writes 89 days of made-up uptime before today, so the
// demo's page shows what a page with history looks like: mostly
// operational days, now and then a degraded or failing one. Only the demo
// calls it, on its embedded store; today is measured for real.
func seedDemoHistory(ctx context.Context, client redis.UniversalClient, cfg *config.Config, now time.Time) error {
	loc, err := time.LoadLocation(cfg.Page.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	const day = int64(24 * time.Hour / time.Millisecond)
	batch := uptime.Batch{}
	days := uptime.Range(now, uptime.Days, loc)
	for _, c := range cfg.Components {
		for _, d := range days[:len(days)-1] {
			date := d.Format(time.DateOnly)
			bad, ms := demoDayFault(c.ID, date)
			if bad != "" {
				batch[uptime.Bucket{Kind: uptime.KindComponent, ID: c.ID, Date: date, Status: string(bad)}] = ms
			}
			batch[uptime.Bucket{Kind: uptime.KindComponent, ID: c.ID, Date: date, Status: string(detector.Operational)}] = day - ms
		}
	}
	if err := redisstore.New(client, cfg.Redis.KeyPrefix).ImportUptime(ctx, batch); err != nil {
		return fmt.Errorf("demo: seed uptime history: %w", err)
	}
	return nil
}

// demoDayFault picks, from a hash of the component and the day, whether
// that day had trouble and how much: about one day in twelve.
func demoDayFault(id, date string) (detector.ComponentStatus, int64) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id + "/" + date))
	v := h.Sum32()
	minutes := int64(5 + v/97%90)
	switch v % 36 {
	case 0:
		return detector.MajorOutage, minutes * 60_000
	case 1:
		return detector.PartialOutage, minutes * 60_000
	case 2:
		return detector.DegradedPerformance, 2 * minutes * 60_000
	}
	return "", 0
}
