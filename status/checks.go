package status

import (
	"math"
	"net/url"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

// The /api/v1/checks documents are tocsin's own. They carry no secret: no
// headers, no bodies, no credentials; a target URL loses its userinfo, query
// and fragment.

type checksDoc struct {
	GeneratedAt string      `json:"generated_at"`
	Stale       bool        `json:"stale"`
	Checks      []checkJSON `json:"checks"`
}

type checkDoc struct {
	GeneratedAt string    `json:"generated_at"`
	Stale       bool      `json:"stale"`
	Check       checkJSON `json:"check"`
}

type checkJSON struct {
	Name       string               `json:"name"`
	Component  string               `json:"component"`
	Type       string               `json:"type"`
	Target     *string              `json:"target"`
	Interval   string               `json:"interval"`
	Timeout    string               `json:"timeout"`
	Status     detector.CheckStatus `json:"status"`
	Since      *string              `json:"since"`
	LastResult *resultJSON          `json:"last_result"`
	// Recent holds the latest results, newest first.
	Recent []recentJSON `json:"recent"`
}

type resultJSON struct {
	Status        probe.Status       `json:"status"`
	Reason        *string            `json:"reason"`
	Message       *string            `json:"message"`
	Start         string             `json:"start"`
	DurationMS    float64            `json:"duration_ms"`
	Phases        map[string]float64 `json:"phases"`
	StatusCode    *int               `json:"status_code"`
	CertExpiresAt *string            `json:"cert_expires_at"`
}

type recentJSON struct {
	Status     probe.Status `json:"status"`
	Reason     *string      `json:"reason"`
	Start      string       `json:"start"`
	DurationMS float64      `json:"duration_ms"`
}

// checkDocuments adds /api/v1/checks and one /api/v1/checks/{name} document
// per configured check, in config order.
func (b *builder) checkDocuments(docs map[string]any) {
	states := make(map[string]detector.Check, len(b.in.Checks))
	for _, c := range b.in.Checks {
		states[c.Name] = c
	}
	gen := b.ts(b.in.Now)
	list := checksDoc{GeneratedAt: gen, Stale: b.in.Stale, Checks: make([]checkJSON, 0, len(b.cfg.Checks))}
	for _, c := range b.cfg.Checks {
		st, ok := states[c.Name]
		if !ok {
			st = detector.Check{Status: detector.Unknown}
		}
		cj := b.check(c, st)
		list.Checks = append(list.Checks, cj)
		docs[pathChecks+"/"+c.Name] = checkDoc{GeneratedAt: gen, Stale: b.in.Stale, Check: cj}
	}
	docs[pathChecks] = list
}

func (b *builder) check(c config.Check, st detector.Check) checkJSON {
	status := st.Status
	if status == "" {
		status = detector.Unknown
	}
	cj := checkJSON{
		Name:      c.Name,
		Component: c.Component,
		Type:      c.Type,
		Target:    nullString(b.scrub(checkTarget(c))),
		Interval:  c.Interval.String(),
		Timeout:   c.Timeout.String(),
		Status:    status,
		Since:     b.tsNull(st.Since),
		Recent:    make([]recentJSON, 0, len(st.Recent)),
	}
	if len(st.Recent) > 0 {
		cj.LastResult = b.result(st.Last)
	}
	for i := len(st.Recent) - 1; i >= 0; i-- {
		r := st.Recent[i]
		cj.Recent = append(cj.Recent, recentJSON{Status: r.Status, Reason: nullString(string(r.Reason)),
			Start: b.ts(r.Start), DurationMS: millis(r.Duration)})
	}
	return cj
}

func (b *builder) result(r probe.Result) *resultJSON {
	out := &resultJSON{
		Status:        r.Status,
		Reason:        nullString(string(r.Reason)),
		Message:       nullString(b.scrub(r.Message)),
		Start:         b.ts(r.Start),
		DurationMS:    millis(r.Duration),
		Phases:        make(map[string]float64, len(r.Phases)),
		CertExpiresAt: b.tsNull(r.CertNotAfter),
	}
	for _, p := range r.Phases {
		out.Phases[p.Name+"_ms"] = millis(p.Duration)
	}
	if r.StatusCode != 0 {
		code := r.StatusCode
		out.StatusCode = &code
	}
	return out
}

// checkTarget is what a check probes, safe to publish ("" when unknown).
func checkTarget(c config.Check) string {
	if c.HTTP != nil {
		return publicURL(c.HTTP.URL.Reveal())
	}
	return ""
}

// publicURL keeps scheme, host and path: userinfo, query and fragment may
// carry credentials or tokens. An unparsable URL gives "".
func publicURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	clean := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return clean.String()
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}
