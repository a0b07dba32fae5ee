package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// scrape is one read of tocsin's /metrics.
type scrape struct {
	took    time.Duration
	series  int     // samples in the exposition
	bytes   int64   // decompressed size
	results float64 // sum of tocsin_probe_results_total
	notUp   float64 // the part of it whose result is not "up"
	reloads float64 // tocsin_config_reloads_total{result="success"}
	lag     []bucket
	heapB   float64 // go_memstats_heap_inuse_bytes
	// families counts series by metric family (histogram _bucket, _sum
	// and _count lines count for their family).
	families map[string]int
	gor      float64 // go_goroutines
}

type bucket struct {
	le    float64
	count float64
}

// scrapeMetrics reads /metrics as Prometheus does (gzip), streaming, and
// times it to the last byte.
func scrapeMetrics(ctx context.Context, base string) (scrape, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return scrape{}, err
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return scrape{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return scrape{}, fmt.Errorf("/metrics: %s", resp.Status)
	}
	s := scrape{families: map[string]int{}}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		s.bytes += int64(len(line)) + 1
		if line == "" || line[0] == '#' {
			continue
		}
		s.series++
		fam, _, _ := strings.Cut(line, "{")
		fam, _, _ = strings.Cut(fam, " ")
		if f, ok := strings.CutSuffix(fam, "_bucket"); ok {
			fam = f
		} else if f, ok := strings.CutSuffix(fam, "_sum"); ok {
			fam = f
		} else if f, ok := strings.CutSuffix(fam, "_count"); ok {
			fam = f
		}
		s.families[fam]++
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			name, rest = line[:j+1], strings.TrimSpace(line[j+1:])
		}
		val, err := strconv.ParseFloat(strings.Fields(rest + " x")[0], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(name, "tocsin_probe_results_total{"):
			s.results += val
			if !strings.Contains(name, `result="up"`) {
				s.notUp += val
			}
		case name == `tocsin_config_reloads_total{result="success"}`:
			s.reloads = val
		case strings.HasPrefix(name, "tocsin_scheduler_lag_seconds_bucket{"):
			le := name[strings.Index(name, `le="`)+4:]
			le = le[:strings.IndexByte(le, '"')]
			b, err := strconv.ParseFloat(le, 64)
			if err == nil {
				s.lag = append(s.lag, bucket{le: b, count: val})
			}
		case name == "go_memstats_heap_inuse_bytes":
			s.heapB = val
		case name == "go_goroutines":
			s.gor = val
		}
	}
	if err := sc.Err(); err != nil {
		return scrape{}, err
	}
	s.took = time.Since(start)
	slices.SortFunc(s.lag, func(a, b bucket) int { return compareFloat(a.le, b.le) })
	return s, nil
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// histQuantile is Prometheus' histogram_quantile over cumulative buckets:
// linear within the bucket the rank falls in; the highest finite bound if
// it falls in +Inf. NaN without observations.
func histQuantile(q float64, bs []bucket) float64 {
	if len(bs) == 0 || bs[len(bs)-1].count == 0 {
		return math.NaN()
	}
	total := bs[len(bs)-1].count
	rank := q * total
	prevLE, prevCount := 0.0, 0.0
	for _, b := range bs {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				return prevLE
			}
			if b.count == prevCount {
				return b.le
			}
			return prevLE + (b.le-prevLE)*(rank-prevCount)/(b.count-prevCount)
		}
		prevLE, prevCount = b.le, b.count
	}
	return prevLE
}
