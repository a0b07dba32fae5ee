package config

// Metrics configures the series tocsin serves on /metrics beyond docs/metrics.md's
// bounded set.
type Metrics struct {
	// PerCheckHistograms adds tocsin_probe_phase_duration_seconds{check,
	// type, phase}: a histogram of each phase of each check's probes. About
	// 14 series per phase per check (15 for a probe's total): 50,000 checks
	// made 1.5 M series and a 224 MB scrape. Off by default; the
	// distribution across checks is tocsin_probe_latency_seconds{type,phase}.
	PerCheckHistograms bool `koanf:"per_check_histograms"`
}
