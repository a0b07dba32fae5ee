package detector

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tocsin/tocsin/probe"
)

// BenchmarkHeapPerCheck50k measures what the detector keeps of 50,000
// checks that each had a full window of results with the detail probers
// report (message, phases), and the cost of one result.
func BenchmarkHeapPerCheck50k(b *testing.B) {
	const n = 50000
	specs := make([]Spec, n)
	for i := range specs {
		specs[i] = Spec{Name: fmt.Sprintf("k%d", i), Component: fmt.Sprintf("c%d", i/10), Impact: MajorOutage,
			FailureThreshold: 3, SuccessThreshold: 2}
	}
	result := func(i int) probe.Result {
		return probe.Result{Status: probe.StatusUp, Start: time.Unix(int64(i), 0), Duration: 40 * time.Millisecond,
			StatusCode: 200, Message: fmt.Sprintf("200 OK in %d ms", 40+i%7),
			Phases: []probe.Phase{{Name: "dns"}, {Name: "connect"}, {Name: "tls"}, {Name: "first_byte"}}}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d := New()
	d.Configure(specs)
	now := time.Now()
	for round := range historySize {
		for _, s := range specs {
			d.Observe(s.Name, result(round), now)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perCheck := float64(after.HeapAlloc-before.HeapAlloc) / n
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		d.Observe(specs[i%n].Name, result(i), now)
	}
	b.ReportMetric(perCheck, "heap-B/check")
	runtime.KeepAlive(d)
}
