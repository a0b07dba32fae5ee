package notify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/config"
)

// Watchdog pings an external dead-man's switch (a Healthchecks.io-style
// URL) every interval while this replica is healthy, so that a dead or
// stuck tocsin is noticed by someone else: when the pings stop.
type Watchdog struct {
	url      string
	interval time.Duration
	health   func() error
	client   *http.Client
	log      *slog.Logger
	pings    *prometheus.CounterVec
}

// NewWatchdog returns the watchdog of c; health says whether this replica
// is healthy (nil) or why not. A c without a URL gives nil: no watchdog.
func NewWatchdog(c config.Watchdog, health func() error, reg prometheus.Registerer, logger *slog.Logger) (*Watchdog, error) {
	if c.URL == "" {
		return nil, nil
	}
	pings := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tocsin_watchdog_pings_total",
		Help: "Watchdog pings by result: sent, failed, or skipped while this replica was not healthy.",
	}, []string{"result"})
	for _, r := range []string{"sent", "failed", "skipped"} {
		pings.WithLabelValues(r)
	}
	if err := reg.Register(pings); err != nil {
		return nil, fmt.Errorf("notify: register watchdog metrics: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watchdog{url: c.URL.Reveal(), interval: c.Interval, health: health,
		client: &http.Client{Timeout: min(c.Interval, 10*time.Second)}, log: logger, pings: pings}, nil
}

// Run pings every interval while healthy, until ctx is done.
func (w *Watchdog) Run(ctx context.Context) error {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	var why string // why the last tick did not ping; "" if it did
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := w.health(); err != nil {
			w.pings.WithLabelValues("skipped").Inc()
			if why == "" {
				w.log.Warn("watchdog: not pinging: this replica is not healthy", "reason", err.Error())
			}
			why = err.Error()
			continue
		}
		if why != "" {
			w.log.Info("watchdog: healthy again; pinging")
			why = ""
		}
		if err := w.ping(ctx); err != nil && ctx.Err() == nil {
			w.pings.WithLabelValues("failed").Inc()
			w.log.Warn("watchdog: ping failed", "error", err)
			continue
		}
		w.pings.WithLabelValues("sent").Inc()
	}
}

func (w *Watchdog) ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url, nil)
	if err != nil {
		return fmt.Errorf("invalid watchdog URL")
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s", networkDetail(ctx, err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
