package main

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// The targets.
const (
	rssLimit50k      = 512 << 10 // KiB, at 50,000 checks
	rssLimit1k       = 64 << 10  // KiB, at 1,000 checks
	lagP99Limit      = 0.250     // s
	cpuRatioLimit    = 1.5
	cpuRatioLimitLow = 1.2 // at 5,000 checks or fewer
	seriesPerCheck   = 10
	scrapeLimit      = time.Second
	reloadLimit      = 2 * time.Second
)

// target is one of the targets at one size.
type targetRow struct {
	name, want, got string
	ok              bool
}

func targets(r *sizeResult) []targetRow {
	var rows []targetRow
	add := func(name, want, got string, ok bool) {
		rows = append(rows, targetRow{name, want, got, ok})
	}
	peak := float64(r.peakKiB) / 1024
	switch r.n {
	case 50000:
		add("peak RSS", "< 512 MiB", fmt.Sprintf("%.0f MiB", peak), r.peakKiB < rssLimit50k)
	case 1000:
		add("peak RSS", "< 64 MiB", fmt.Sprintf("%.0f MiB", peak), r.peakKiB < rssLimit1k)
	}
	if r.memLimit > 0 {
		lim := float64(r.memLimit) / (1 << 20)
		add("peak RSS within -memory-limit (not OOM-killed)", fmt.Sprintf("< %.0f MiB", lim), fmt.Sprintf("%.0f MiB", peak), peak < lim)
	}
	ext := quantile(r.hits.lagFirst, 0.99)
	add("lag p99, first interval, at the target", "< 250 ms", ms(ext)+" ms", ext < lagP99Limit && len(r.hits.lagFirst) > 0)
	add("lag p99, tocsin_scheduler_lag_seconds", "< 250 ms", ms(r.lagP99)+" ms", r.lagP99 < lagP99Limit)
	add("checks not run in the first interval", "0", fmt.Sprint(r.hits.missFirst), r.hits.missFirst == 0)
	add("doubled runs", "0", fmt.Sprint(r.hits.doubled), r.hits.doubled == 0)
	add("missed runs (gaps) after the first", "0", fmt.Sprint(r.hits.missedRuns), r.hits.missedRuns == 0)
	limit := cpuRatioLimit
	if r.n <= 5000 {
		limit = cpuRatioLimitLow
	}
	ratio := cpuRatio(r)
	add("CPU per probe vs the bare loop", fmt.Sprintf("≤ %.1f×", limit), fmt.Sprintf("%.2f×", ratio), ratio <= limit)
	spc := float64(r.series) / float64(r.n)
	add("/metrics series per check", "≤ 10", fmt.Sprintf("%.1f", spc), spc <= seriesPerCheck)
	add("/metrics scrape", "< 1 s", fmt.Sprintf("%.2f s", r.scrapeTook.Seconds()), r.scrapeTook < scrapeLimit)
	add("config load + validation (tocsin validate)", "< 2 s", fmt.Sprintf("%.2f s", r.validate.Seconds()), r.validate < reloadLimit)
	add("SIGHUP reload", "< 2 s", fmt.Sprintf("%.2f s", r.reload.Seconds()), r.reloadOK && r.reload < reloadLimit)
	add("no probe gap at the reload: checks whose gap across it exceeds the interval by > 250 ms", "0", fmt.Sprint(r.hits.reloadGapped), r.hits.reloadGapped == 0)
	return rows
}

func cpuRatio(r *sizeResult) float64 {
	b := r.bareCPUPer1k()
	if b == 0 {
		return math.Inf(1)
	}
	return r.cpuPer1k() / b
}

func missedTargets(r *sizeResult) []string {
	var out []string
	for _, t := range targets(r) {
		if !t.ok {
			out = append(out, t.name)
		}
	}
	return out
}

func p5099(xs []float64) string {
	return ms(quantile(xs, 0.5)) + " / " + ms(quantile(xs, 0.99))
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

func renderReport(rs []*sizeResult, failed []string, took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Whole run: %s.\n\n", took.Round(time.Second))
	for _, f := range failed {
		fmt.Fprintf(&b, "- **failed**: %s\n", f)
	}
	for _, r := range rs {
		for _, n := range r.notes {
			fmt.Fprintf(&b, "- %d checks: %s\n", r.n, n)
		}
	}
	if len(failed) > 0 || slices.ContainsFunc(rs, func(r *sizeResult) bool { return len(r.notes) > 0 }) {
		b.WriteString("\n")
	}

	b.WriteString("### Probing\n\n")
	b.WriteString("| checks | plan | planned probes/s | achieved probes/s (steady interval) | not run in 1st interval | doubled runs | missed runs | lag p50 / p99 at the target, 1st interval (ms) | same, all runs (ms) | lag p50 / p99, `tocsin_scheduler_lag_seconds` (ms) | start → first probe (s) | start → every check probed once (s) | bare loop: lag p50 / p99 at the target (ms) | probe results since start, of which not up |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %d | %s | %.1f | %.1f | %d | %d | %d | %s | %s | %s / %s | %s | %s | %s | %.0f, %.0f |\n",
			r.n, r.hits.plan, r.planned, r.achieved, r.hits.missFirst, r.hits.doubled, r.hits.missedRuns,
			p5099(r.hits.lagFirst), p5099(r.hits.lagAll), ms(r.lagP50), ms(r.lagP99),
			secs(r.firstProbe), secs(r.allFirst), p5099(r.bareHits.lagAll), r.results, r.notUp)
	}

	b.WriteString("\n### Cost\n\n")
	b.WriteString("| checks | CPU-s per 1,000 probes: tocsin | bare loop | ratio | peak RSS (MiB) | of which before the reload (MiB) | peak RSS after the scrapes (MiB) | RSS per check (KiB) | Go heap in use (MiB) | goroutines | bare loop peak RSS (MiB) | `/metrics` series | per check | scrape (s, median / max of up to 3) | exposition (MiB) | Redis round trips per result | Redis commands per result |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %d | %.3f | %.3f | %.2f× | %.0f | %.0f | %.0f | %.1f | %.0f | %.0f | %.0f | %d | %.1f | %s / %s | %.1f | %.3f | %.2f |\n",
			r.n, r.cpuPer1k(), r.bareCPUPer1k(), cpuRatio(r), float64(r.peakKiB)/1024, float64(r.peakSteadyKiB)/1024, float64(r.peakScrapeKiB)/1024,
			float64(r.peakKiB)/float64(r.n),
			r.heapMiB, r.gor, float64(r.bare.peakKiB)/1024, r.series, float64(r.series)/float64(r.n),
			secs(r.scrapeTook), secs(r.scrapeMax), r.scrapeMiB, r.redisRT, r.redisCmds)
	}

	b.WriteString("\n### Start-up and reload\n\n")
	b.WriteString("| checks | `tocsin validate` (s) | start → `/readyz` 200 (s) | SIGHUP → `config reloaded` (s) | reload result | checks with a gap across the reload (> interval + 250 ms) | gap across the reload minus the interval, p50 / p99 / max (ms) | control, one interval earlier: checks, p50 / p99 / max (ms) | probes/s in the interval after it | bare loop: probes, errors, achieved probes/s | load average (1 min) at the end |\n")
	b.WriteString("|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|\n")
	for _, r := range rs {
		result := "success"
		if !r.reloadOK {
			result = "**failed**"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %d | %s / %s | %d, %s / %s | %.1f | %d, %d, %.1f | %s |\n",
			r.n, secs(r.validate), secs(r.startup), secs(r.reload), result, r.hits.reloadGapped,
			p5099(r.hits.reloadExtra), ms(quantile(r.hits.reloadExtra, 1)),
			r.hits.controlGapped, p5099(r.hits.controlExtra), ms(quantile(r.hits.controlExtra, 1)), r.afterReloadPS,
			r.bare.res.Probes, r.bare.res.Errors, float64(r.bare.res.Probes)/max(r.bare.res.Seconds, 1e-9), r.load)
	}

	b.WriteString("\n### Against the issue's targets\n\n")
	b.WriteString("| checks | target | wanted | measured | met |\n|---:|---|---|---|---|\n")
	for _, r := range rs {
		for _, t := range targets(r) {
			ok := "yes"
			if !t.ok {
				ok = "**no**"
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s |\n", r.n, t.name, t.want, t.got, ok)
		}
	}
	b.WriteString("\n### `/metrics` series by family (top 8, per check)\n\n| checks | families |\n|---:|---|\n")
	for _, r := range rs {
		fams := slices.SortedFunc(maps.Keys(r.families), func(a, c string) int {
			return cmp.Or(r.families[c]-r.families[a], strings.Compare(a, c))
		})
		var parts []string
		for _, f := range fams[:min(8, len(fams))] {
			parts = append(parts, fmt.Sprintf("`%s` %.1f", f, float64(r.families[f])/float64(r.n)))
		}
		fmt.Fprintf(&b, "| %d | %s |\n", r.n, strings.Join(parts, ", "))
	}
	for _, r := range rs {
		if r.profiles == "" {
			continue
		}
		fmt.Fprintf(&b, "\n### Profiles at %d checks (missed: %s)\n\n", r.n, strings.Join(r.missed, "; "))
		b.WriteString(r.profiles)
	}
	return b.String()
}
