package main

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
)

// reloadHeadroom is what a reload may take above what the runtime held
// when it began: room for a config that grew, so the collector does not
// work flat out through a reload that needs more memory for good.
const reloadHeadroom = 32 << 20

// holdHeap keeps a reload from raising the process's memory high-water
// mark, and returns the function that ends the hold. While a reload builds
// the new config beside the one in force both are live, and the parse
// leaves garbage; left to itself the collector lets the heap grow to twice
// that larger live set: at 50,000 checks a reload added about 110 MiB to
// the peak RSS (docs/benchmarks.md). For the reload's second or two the
// soft memory limit is what the runtime holds when it begins, which the
// steady state needed anyway, plus reloadHeadroom: the collector works
// harder meanwhile instead of taking more memory. A lower limit in force
// (GOMEMLIMIT, or the container's, daemon.go) stays.
func holdHeap() (release func()) {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return func() {} // not this runtime's metrics: no hold
	}
	held := s[0].Value.Uint64() - s[1].Value.Uint64()
	prev := debug.SetMemoryLimit(-1) // reads the limit without changing it
	if held > math.MaxInt64-reloadHeadroom || int64(held)+reloadHeadroom >= prev {
		return func() {}
	}
	debug.SetMemoryLimit(int64(held) + reloadHeadroom)
	return func() { debug.SetMemoryLimit(prev) }
}
