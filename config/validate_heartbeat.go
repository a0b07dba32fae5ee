package config

import (
	"cmp"
	"strings"
	"time"
	"unicode"
)

// Heartbeat defaults.
const (
	// maxDefaultGrace caps the default grace (half the period): a daily
	// job gets an hour of slack, as on Healthchecks.io, not twelve.
	maxDefaultGrace = time.Hour
	// minHeartbeatInterval is the shortest interval applyDefaults clamps a
	// heartbeat check to; an explicitly shorter one is kept.
	minHeartbeatInterval = time.Second
)

// validate checks a heartbeat block. The interval needs no rule here:
// applyDefaults has already fitted it to the grace. Problems never quote the
// token.
func (h *HeartbeatCheck) validate(p *problems, path string, _ time.Duration) {
	switch {
	case h.Period == 0:
		p.add(path+".period", "required")
	case h.Period < 0:
		p.add(path+".period", "must be positive")
	}
	nonNegative(p, path+".grace", h.Grace)
	// token and token_file together were reported when the file was read.
	if strings.ContainsFunc(h.Token.Reveal(), func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		key := path + ".token"
		if h.TokenFile != "" {
			key = path + ".token_file"
		}
		// It could not be sent in an Authorization header.
		p.add(key, "must not contain spaces or control characters")
	}
}

// applyDefaults sets the heartbeat block's unset values and fits the check's
// timing to it.
//
// grace defaults to half the period, at most an hour (period 1m: 30s; a
// daily job: 1h). A grace of 0 cannot be told from an unset one and gets the
// default too.
//
// The interval is how often the stored beats are judged, so a miss is seen
// up to one interval late: it is clamped to at most the grace (but not
// below 1s), and a missed beat then shows within period + 2×grace. An
// interval set shorter stays. A heartbeat probe is one Redis read, so when
// the interval is clamped the timeout is cut to at most half of it: the
// default 10s timeout would otherwise break "timeout < interval" for an
// interval the user never wrote.
func (h *HeartbeatCheck) applyDefaults(ch *Check) {
	if h == nil {
		return
	}
	if h.Period > 0 {
		h.Grace = cmp.Or(h.Grace, min(h.Period/2, maxDefaultGrace))
	}
	if ch.Type != typeHeartbeat || h.Grace < 0 {
		return
	}
	if limit := max(h.Grace, minHeartbeatInterval); ch.Interval > limit {
		ch.Interval = limit
		ch.Timeout = min(ch.Timeout, ch.Interval/2)
	}
}
