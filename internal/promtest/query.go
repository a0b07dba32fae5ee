package promtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Sample is one element of an instant query's result. A scalar result is one
// Sample with a nil Metric.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query runs an instant PromQL query now. A vector or scalar result is
// returned as samples; an error status, another result type or an
// unreachable server is an error.
func (s *Server) Query(ctx context.Context, query string) ([]Sample, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := s.api(ctx, "/api/v1/query?query="+url.QueryEscape(query), &data); err != nil {
		return nil, err
	}
	switch data.ResultType {
	case "scalar":
		var pair []json.RawMessage
		if err := json.Unmarshal(data.Result, &pair); err != nil {
			return nil, fmt.Errorf("query %q: scalar: %w", query, err)
		}
		v, err := parseValue(pair)
		if err != nil {
			return nil, fmt.Errorf("query %q: %w", query, err)
		}
		return []Sample{{Value: v}}, nil
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  []json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(data.Result, &vec); err != nil {
			return nil, fmt.Errorf("query %q: vector: %w", query, err)
		}
		out := make([]Sample, 0, len(vec))
		for _, e := range vec {
			v, err := parseValue(e.Value)
			if err != nil {
				return nil, fmt.Errorf("query %q: %w", query, err)
			}
			out = append(out, Sample{Metric: e.Metric, Value: v})
		}
		return out, nil
	}
	return nil, fmt.Errorf("query %q: result type %q, want vector or scalar", query, data.ResultType)
}

// WaitForSeries polls the query every 100 ms until it returns at least one
// sample and returns them; it fails the test with the last answer (and
// Prometheus' log) if none came within timeout.
func (s *Server) WaitForSeries(t testing.TB, query string, timeout time.Duration) []Sample {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		got, err := s.Query(ctx, query)
		cancel()
		if err == nil && len(got) > 0 {
			return got
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("no samples")
			}
			t.Fatalf("promtest: query %q returned nothing within %s: %v\nprometheus log:\n%s",
				query, timeout, err, s.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// api GETs a Prometheus API path and decodes the data of a success answer
// into data.
func (s *Server) api(ctx context.Context, path string, data any) error {
	status, body, err := s.srv.Get(ctx, path)
	if err != nil {
		return err
	}
	var env struct {
		Status    string          `json:"status"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("HTTP %d, not a Prometheus API answer: %w", status, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("HTTP %d: %s: %s", status, env.ErrorType, env.Error)
	}
	return json.Unmarshal(env.Data, data)
}

// parseValue decodes a [<unix time>, "<value>"] pair.
func parseValue(pair []json.RawMessage) (float64, error) {
	var text string
	if len(pair) != 2 || json.Unmarshal(pair[1], &text) != nil {
		return 0, fmt.Errorf("malformed sample: want [time, \"value\"]")
	}
	return strconv.ParseFloat(text, 64)
}

// renderConfig writes prometheus.yml: one-second scrapes and rule
// evaluation, one job "test" scraping targets, and the rule files.
func renderConfig(rules, targets []string) []byte {
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n")
	if len(rules) > 0 {
		b.WriteString("rule_files:\n")
		for _, r := range rules {
			// A JSON string is a valid YAML double-quoted scalar.
			fmt.Fprintf(&b, "  - %s\n", quote(r))
		}
	}
	if len(targets) > 0 {
		b.WriteString("scrape_configs:\n  - job_name: test\n    static_configs:\n      - targets:\n")
		for _, tg := range targets {
			fmt.Fprintf(&b, "          - %s\n", quote(tg))
		}
	}
	return []byte(b.String())
}

// quote renders s as a YAML double-quoted scalar.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
