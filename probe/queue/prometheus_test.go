package queue

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/probetest"
	"github.com/tocsin/tocsin/internal/promtest"
	"github.com/tocsin/tocsin/probe"
)

// metricsTarget serves /metrics in the text exposition format: a gauge
// test_queue_depth the test sets, and two series of test_queue_split.
func metricsTarget(t *testing.T, depth *atomic.Int64) string {
	t.Helper()
	srv := probetest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		fmt.Fprintf(w, "# HELP test_queue_depth Jobs waiting.\n# TYPE test_queue_depth gauge\ntest_queue_depth %d\n", depth.Load())
		fmt.Fprint(w, "# TYPE test_queue_split gauge\ntest_queue_split{queue=\"a\"} 1\ntest_queue_split{queue=\"b\"} 2\n")
	}), nil)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestPrometheusSource runs the source against a real Prometheus scraping a
// target the test controls.
func TestPrometheusSource(t *testing.T) {
	t.Parallel()
	var depth atomic.Int64
	depth.Store(42)
	prom := promtest.Start(t, metricsTarget(t, &depth))
	prom.WaitForSeries(t, "test_queue_depth", 20*time.Second)
	prom.WaitForSeries(t, "test_queue_split", 5*time.Second)

	read := func(t *testing.T, query string) (QueueSample, context.Context, error) {
		t.Helper()
		src := mustQueueSource(t, newPrometheusSource, config.QueueCheck{URL: config.Secret(prom.URL()), Query: query})
		return readQueueSource(t, src, 5*time.Second)
	}

	t.Run("gauge", func(t *testing.T) {
		if got, _, err := read(t, "test_queue_depth"); err != nil || got.Depth != 42 {
			t.Fatalf("Read = %+v, %v; want depth 42", got, err)
		}
	})
	t.Run("follows the gauge", func(t *testing.T) {
		depth.Store(17)
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, _, err := read(t, "test_queue_depth")
			if err == nil && got.Depth == 17 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("Read = %+v, %v; want depth 17 within 10s of the change", got, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	tests := []struct {
		name    string
		query   string
		want    float64
		wantMsg string // a protocol error containing this
	}{
		{name: "aggregated", query: "sum(test_queue_split)", want: 3},
		{name: "scalar", query: "scalar(test_queue_split{queue=\"b\"}) * 2", want: 4},
		{name: "two series", query: "test_queue_split",
			wantMsg: "query returned 2 series; it must return one number (wrap it in sum() or max())"},
		{name: "no samples", query: `test_queue_depth{queue="none"}`, wantMsg: "query returned no samples"},
		{name: "invalid PromQL", query: "sum(test_queue_depth", wantMsg: "query failed: bad_data: "},
		{name: "range vector", query: "test_queue_split[1m]", wantMsg: "query returned a range vector"},
		{name: "NaN", query: "0 / 0", wantMsg: "query returned NaN"},
		{name: "Inf", query: "vector(1) / 0", wantMsg: "query returned +Inf"},
		{name: "negative", query: "-sum(test_queue_split)", wantMsg: "query returned -3; a queue depth cannot be negative"},
		{name: "string", query: `"text"`, wantMsg: `query returned a result of type "string"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ctx, err := read(t, tt.query)
			if tt.wantMsg == "" {
				if err != nil || got.Depth != tt.want {
					t.Fatalf("Read(%s) = %+v, %v; want depth %v", tt.query, got, err, tt.want)
				}
				return
			}
			reason, msg := sourceReason(ctx, err)
			if reason != probe.ReasonProtocol || !strings.Contains(msg, tt.wantMsg) {
				t.Fatalf("Read(%s) error = %v; want protocol containing %q", tt.query, err, tt.wantMsg)
			}
		})
	}

	t.Run("stopped", func(t *testing.T) {
		prom.Stop()
		_, ctx, err := read(t, "test_queue_depth")
		if reason, msg := sourceReason(ctx, err); reason != probe.ReasonConnect {
			t.Fatalf("Read after Stop = %v (%s: %q), want connect", err, reason, msg)
		}
	})
}

// TestPrometheusSourceHTTP covers what is awkward to get from a real
// Prometheus: basic auth in front of it (as a reverse proxy adds), a base
// URL with a path prefix, and answers that are not the API's.
func TestPrometheusSourceHTTP(t *testing.T) {
	t.Parallel()
	const ok = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.1,"5"]}]}}`
	queries := make(chan string, 16)
	srv := probetest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, found := r.BasicAuth(); !found || u != "ops" || p != "prom-secret" {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/prom/api/v1/query":
			queries <- r.URL.Query().Get("query")
			fmt.Fprint(w, ok)
		case "/html/api/v1/query":
			fmt.Fprint(w, "<html>login</html>")
		case "/down/api/v1/query":
			http.Error(w, "upstream gone", http.StatusBadGateway)
		case "/hist/api/v1/query":
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{"count":"2"}]}]}}`)
		case "/timeout/api/v1/query":
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}`)
		default:
			http.NotFound(w, r)
		}
	}), nil)
	tests := []struct {
		name       string
		url        string
		user, pass string
		want       probe.Reason
		wantMsg    string
	}{
		{name: "path prefix and basic auth", url: srv.URL + "/prom/", user: "ops", pass: "prom-secret"},
		{name: "credentials in the URL", url: strings.Replace(srv.URL, "://", "://ops:prom-secret@", 1) + "/prom"},
		{name: "wrong password", url: srv.URL + "/prom", user: "ops", pass: "not-the-secret", want: probe.ReasonAuth,
			wantMsg: "HTTP 401 Unauthorized"},
		{name: "not the API", url: srv.URL + "/html", user: "ops", pass: "prom-secret", want: probe.ReasonProtocol,
			wantMsg: "response is not a Prometheus API answer"},
		{name: "bad gateway", url: srv.URL + "/down", user: "ops", pass: "prom-secret", want: probe.ReasonProtocol,
			wantMsg: "unexpected HTTP status 502"},
		{name: "native histogram", url: srv.URL + "/hist", user: "ops", pass: "prom-secret", want: probe.ReasonProtocol,
			wantMsg: "query returned a histogram"},
		{name: "query timeout", url: srv.URL + "/timeout", user: "ops", pass: "prom-secret", want: probe.ReasonProtocol,
			wantMsg: "query failed: timeout: query timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := mustQueueSource(t, newPrometheusSource, config.QueueCheck{
				URL: config.Secret(tt.url), Username: tt.user, Password: config.Secret(tt.pass),
				Query: `sum(jobs{queue="mail"})`})
			got, ctx, err := readQueueSource(t, src, 5*time.Second)
			reason, msg := sourceReason(ctx, err)
			if reason != tt.want || !strings.Contains(msg, tt.wantMsg) || (tt.want == probe.ReasonNone && got.Depth != 5) {
				t.Fatalf("Read = %+v, %v; want reason %q containing %q", got, err, tt.want, tt.wantMsg)
			}
			if tt.want == probe.ReasonNone {
				if q := <-queries; q != `sum(jobs{queue="mail"})` {
					t.Errorf("query sent = %q", q)
				}
			}
			for _, out := range []string{msg, fmt.Sprint(err), fmt.Sprint(src)} {
				if strings.Contains(out, "secret") {
					t.Errorf("output %q holds a password", out)
				}
			}
		})
	}
}

func TestPrometheusSourceConfig(t *testing.T) {
	t.Parallel()
	_, err := newPrometheusSource(config.QueueCheck{URL: "mailto:x", Query: " "}, probe.Options{})
	for _, want := range []string{"queue.url: must be an absolute", "queue.query: is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
}
