package engine

import (
	"bufio"
	"io"
	"math"
	"strconv"
	"strings"
)

// checkChunk is how many checks WriteMetrics copies under the lock at a
// time: a scrape holds a chunk, not a copy of every check.
const checkChunk = 1024

// WriteMetrics writes the per-check families in the Prometheus text
// format (version 0.0.4), as the registry's encoder would write what
// Collect sends, but straight from checkSeries: gathering them made a
// dto.Metric and its label pairs for each of 375,000 series at 50,000
// checks, some 150 MB and most of a scrape's second (docs/benchmarks.md).
// The families come in the order of their names, each series sorted by
// check name as Collect sends them. w is buffered here; the caller need
// not.
func (c *CheckMetrics) WriteMetrics(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	sorted := c.sortedList()
	families := []struct {
		name, help, typ string
		write           func(b []byte, s *checkSeries, vantage []string) []byte
	}{
		{"tocsin_check_status", "Confirmed check state: 1 for the current state, 0 for the others.", "gauge", writeStatus},
		{"tocsin_probe_duration_seconds", "How long the check's last probe took.", "gauge", writeDuration},
		{"tocsin_probe_results_total", "Probe results by verdict.", "counter", writeResults},
		{"tocsin_probe_success", "1 if the last probe of the check was up or degraded, 0 if down.", "gauge", writeSuccess},
	}
	chunk := make([]checkSeries, 0, min(checkChunk, len(sorted)))
	var b []byte
	for _, f := range families {
		header := false
		for start := 0; start < len(sorted); start += checkChunk {
			chunk = c.copyChunk(chunk[:0], sorted[start:min(start+checkChunk, len(sorted))])
			for i := range chunk {
				b = f.write(b[:0], &chunk[i], c.vantage)
				if len(b) == 0 {
					continue
				}
				if !header {
					// The registry leaves out a family with no series.
					header = true
					if _, err := bw.WriteString("# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.typ + "\n"); err != nil {
						return err
					}
				}
				if _, err := bw.Write(b); err != nil {
					return err
				}
			}
		}
	}
	return bw.Flush()
}

// sortedList returns the checks sorted by name. The slice is never
// changed once made (a change makes a new one), so it can be read
// without the lock; the series it points to cannot.
func (c *CheckMetrics) sortedList() []*checkSeries {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sortedLocked()
}

// copyChunk appends copies of the series of part to dst under the lock.
func (c *CheckMetrics) copyChunk(dst []checkSeries, part []*checkSeries) []checkSeries {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range part {
		dst = append(dst, *s)
	}
	return dst
}

func writeSuccess(b []byte, s *checkSeries, vantage []string) []byte {
	if !s.probed {
		return b
	}
	b = appendLabels(b, "tocsin_probe_success", vantage, "check", s.name, "component", s.component, "type", s.typ)
	return appendValue(b, s.success)
}

func writeDuration(b []byte, s *checkSeries, vantage []string) []byte {
	if !s.probed {
		return b
	}
	b = appendLabels(b, "tocsin_probe_duration_seconds", vantage, "check", s.name, "type", s.typ)
	return appendValue(b, s.duration)
}

func writeResults(b []byte, s *checkSeries, vantage []string) []byte {
	for i, r := range resultOrder() {
		if s.seen[i] {
			b = appendLabels(b, "tocsin_probe_results_total", vantage, "check", s.name, "result", string(r), "type", s.typ)
			b = appendValue(b, s.results[i])
		}
	}
	return b
}

func writeStatus(b []byte, s *checkSeries, vantage []string) []byte {
	for _, st := range statusOrder() {
		b = appendLabels(b, "tocsin_check_status", vantage, "check", s.name, "status", string(st))
		v := 0.0
		if st == s.status {
			v = 1
		}
		b = appendValue(b, v)
	}
	return b
}

// appendLabels appends name{k1="v1",...} for the name/value pairs kv,
// then those of last (the vantage: nil without).
func appendLabels(b []byte, name string, last []string, kv ...string) []byte {
	b = append(b, name...)
	b = append(b, '{')
	for _, pairs := range [2][]string{kv, last} {
		for i := 0; i < len(pairs); i += 2 {
			if b[len(b)-1] != '{' {
				b = append(b, ',')
			}
			b = append(b, pairs[i]...)
			b = append(b, `="`...)
			b = appendEscaped(b, pairs[i+1])
			b = append(b, '"')
		}
	}
	return append(b, "} "...)
}

// appendEscaped appends a label value escaped as the text format wants:
// backslash, double quote and line feed.
func appendEscaped(b []byte, v string) []byte {
	if !strings.ContainsAny(v, "\\\"\n") {
		return append(b, v...)
	}
	for i := range len(v) {
		switch v[i] {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, v[i])
		}
	}
	return b
}

// appendValue appends a sample value as the registry's encoder writes
// it, and the line's end.
func appendValue(b []byte, v float64) []byte {
	switch {
	case v == 0: // and -0, as the encoder writes it
		b = append(b, '0')
	case math.IsInf(v, +1):
		b = append(b, "+Inf"...)
	case math.IsInf(v, -1):
		b = append(b, "-Inf"...)
	case math.IsNaN(v):
		b = append(b, "NaN"...)
	default:
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return append(b, '\n')
}
