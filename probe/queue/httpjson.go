package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// httpJSONSource reads a queue's depth from a number in a JSON document: a
// GET of the check's url, then json_path to the number.
type httpJSONSource struct {
	get     *httpGetter
	path    []string
	rawPath string
}

var _ QueueSource = (*httpJSONSource)(nil)

// newHTTPJSONSource builds the http_json queue source. Every problem is
// reported, each naming its key.
func newHTTPJSONSource(q config.QueueCheck, o probe.Options) (QueueSource, error) {
	g, err := newHTTPGetter(q, o)
	path, perr := probe.ParseJSONPath(q.JSONPath)
	if perr != nil {
		perr = fmt.Errorf("queue.json_path: %w", perr)
	}
	if err := errors.Join(err, perr); err != nil {
		return nil, err
	}
	return &httpJSONSource{get: g, path: path, rawPath: q.JSONPath}, nil
}

// String describes the source without credentials, so that printing it
// with %v never shows a secret.
func (s *httpJSONSource) String() string {
	return fmt.Sprintf("http_json %s json_path=%q", s.get.safeURL(), s.rawPath)
}

// Read fetches the document and returns the number at the path as the depth.
func (s *httpJSONSource) Read(ctx context.Context) (QueueSample, error) {
	resp, err := s.get.get(ctx, s.get.base)
	if err != nil {
		return QueueSample{}, err
	}
	if resp.status < 200 || resp.status > 299 {
		return QueueSample{}, statusErr(resp.status)
	}
	doc, err := probe.DecodeJSON(resp.body)
	if err != nil {
		return QueueSample{}, sourceErr(probe.ReasonProtocol, "%s", s.get.scrub("response is not JSON: "+err.Error()))
	}
	depth, err := probe.JSONPathNumber(doc, s.path)
	if err != nil {
		return QueueSample{}, sourceErr(probe.ReasonProtocol, "%s", s.get.scrub(fmt.Sprintf("json_path %q: %v", s.rawPath, err)))
	}
	if depth < 0 {
		return QueueSample{}, sourceErr(probe.ReasonProtocol, "json_path %q: %s is negative; a queue depth cannot be", s.rawPath, probe.FormatNumber(depth))
	}
	return QueueSample{Depth: depth}, nil
}
