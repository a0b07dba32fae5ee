package status

import (
	"bufio"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// MetricsWriter writes metric families in the Prometheus text format
// (version 0.0.4) itself, without the registry's dto.Metric per series:
// engine.CheckMetrics, whose per-check series are most of a large
// replica's /metrics.
type MetricsWriter interface {
	WriteMetrics(w io.Writer) error
}

// metricsHandler serves /metrics in the text format: g's families through
// expfmt's encoder, then each writer's. Unlike promhttp it never offers
// the protobuf format, which would need a dto.Metric for every series;
// Prometheus takes the text format from any target. A gather or write
// error is logged and, if nothing was sent yet, answered with a 500.
func metricsHandler(g prometheus.Gatherer, logger *slog.Logger, writers []MetricsWriter) http.Handler {
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			// The headers alone: gathering 375,000 series to throw
			// them away would cost a scrape's work.
			w.Header().Set("Content-Type", string(format))
			return
		}
		mfs, err := g.Gather()
		if err != nil {
			logger.Error("metrics: gather", "err", err)
			http.Error(w, "metrics: gather failed; see the log", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", string(format))
		h.Add("Vary", "Accept-Encoding")
		var out io.Writer = w
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			// BestSpeed: a 50,000-check exposition is 23 MiB of text.
			gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
			defer func() { _ = gz.Close() }()
			out = gz
		}
		bw := bufio.NewWriterSize(out, 32<<10)
		enc := expfmt.NewEncoder(bw, format)
		for _, mf := range mfs {
			if err = enc.Encode(mf); err != nil {
				break
			}
		}
		for _, mw := range writers {
			if err != nil {
				break
			}
			err = mw.WriteMetrics(bw)
		}
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			// Most likely the scraper went away; the status line is sent.
			logger.Warn("metrics: write", "err", err)
		}
	})
}
