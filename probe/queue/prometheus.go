package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// prometheusSource reads a queue's depth with an instant PromQL query
// through the Prometheus HTTP API (GET {url}/api/v1/query?query=...). The
// query must return one number: a scalar or a vector of one sample.
type prometheusSource struct {
	get   *httpGetter
	query string
}

var _ QueueSource = (*prometheusSource)(nil)

// newPrometheusSource builds the prometheus queue source. Every problem is
// reported, each naming its key.
func newPrometheusSource(q config.QueueCheck, o probe.Options) (QueueSource, error) {
	g, err := newHTTPGetter(q, o)
	var qerr error
	if strings.TrimSpace(q.Query) == "" {
		qerr = errors.New("queue.query: is required")
	}
	if err := errors.Join(err, qerr); err != nil {
		return nil, err
	}
	u := *g.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/query"
	u.RawPath = ""
	g.base = &u
	return &prometheusSource{get: g, query: q.Query}, nil
}

// String describes the source without credentials, so that printing it
// with %v never shows a secret.
func (s *prometheusSource) String() string {
	return fmt.Sprintf("prometheus %s query=%q", s.get.safeURL(), s.query)
}

// promResponse is the envelope of every Prometheus API answer.
type promResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// promSample is one element of a vector result. A native histogram sample
// has "histogram" instead of "value".
type promSample struct {
	Metric    map[string]string `json:"metric"`
	Value     []json.RawMessage `json:"value"`
	Histogram json.RawMessage   `json:"histogram"`
}

// Read runs the query and returns its one number as the depth.
func (s *prometheusSource) Read(ctx context.Context) (QueueSample, error) {
	u := *s.get.base
	params := u.Query() // keep any the base URL carries
	params.Set("query", s.query)
	u.RawQuery = params.Encode()
	resp, err := s.get.get(ctx, &u)
	if err != nil {
		return QueueSample{}, err
	}
	depth, err := s.parse(resp)
	if err != nil {
		return QueueSample{}, err
	}
	return QueueSample{Depth: depth}, nil
}

// parse judges an API answer. Prometheus reports a bad query as 400 and a
// failed evaluation as 422 or 503, each with an error envelope, so the
// envelope is read before the status decides.
func (s *prometheusSource) parse(resp response) (float64, error) {
	var env promResponse
	jsonErr := json.Unmarshal(resp.body, &env)
	switch {
	case resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden:
		return 0, statusErr(resp.status)
	case jsonErr == nil && env.Status == "error":
		return 0, s.protocolErr("query failed: %s: %s", env.ErrorType, env.Error)
	case resp.status < 200 || resp.status > 299:
		return 0, statusErr(resp.status)
	case jsonErr != nil:
		return 0, s.protocolErr("response is not a Prometheus API answer: %v", jsonErr)
	case env.Status != "success":
		return 0, s.protocolErr("response status %q, want \"success\"", env.Status)
	}
	var v float64
	var err error
	switch env.Data.ResultType {
	case "scalar":
		var pair []json.RawMessage
		if err := json.Unmarshal(env.Data.Result, &pair); err != nil {
			return 0, s.protocolErr("malformed scalar result: %v", err)
		}
		v, err = promValue(pair)
	case "vector":
		v, err = s.vectorValue(env.Data.Result)
	case "matrix":
		return 0, s.protocolErr("query returned a range vector; it must return one number (drop the [range] or wrap it in a function such as max_over_time())")
	default:
		return 0, s.protocolErr("query returned a result of type %q; it must return one number", env.Data.ResultType)
	}
	if err != nil {
		return 0, err
	}
	switch {
	case math.IsNaN(v):
		return 0, s.protocolErr("query returned NaN")
	case math.IsInf(v, 0):
		return 0, s.protocolErr("query returned %s", probe.FormatNumber(v))
	case v < 0:
		return 0, s.protocolErr("query returned %s; a queue depth cannot be negative (wrap it in clamp_min(..., 0) if that is expected)", probe.FormatNumber(v))
	}
	return v, nil
}

// vectorValue returns the value of a vector's only sample.
func (s *prometheusSource) vectorValue(raw json.RawMessage) (float64, error) {
	var vec []promSample
	if err := json.Unmarshal(raw, &vec); err != nil {
		return 0, s.protocolErr("malformed vector result: %v", err)
	}
	switch {
	case len(vec) == 0:
		return 0, s.protocolErr("query returned no samples")
	case len(vec) > 1:
		return 0, s.protocolErr("query returned %d series; it must return one number (wrap it in sum() or max())", len(vec))
	case vec[0].Value == nil && vec[0].Histogram != nil:
		return 0, s.protocolErr("query returned a histogram; it must return one number (use histogram_count() or histogram_quantile())")
	}
	return promValue(vec[0].Value)
}

// promValue decodes a [<unix time>, "<value>"] pair; the value is a string
// that may be "NaN", "+Inf" or "-Inf".
func promValue(pair []json.RawMessage) (float64, error) {
	var text string
	if len(pair) != 2 || json.Unmarshal(pair[1], &text) != nil {
		return 0, sourceErr(probe.ReasonProtocol, "malformed sample: want [time, \"value\"]")
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, sourceErr(probe.ReasonProtocol, "malformed sample value %q", probe.ClipTo(text, 40))
	}
	return v, nil
}

// protocolErr is a protocol SourceError with the secrets scrubbed: the
// server's error text may repeat parts of the request.
func (s *prometheusSource) protocolErr(format string, args ...any) error {
	return sourceErr(probe.ReasonProtocol, "%s", s.get.scrub(fmt.Sprintf(format, args...)))
}
