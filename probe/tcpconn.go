package probe

import "time"

// Phase names of the SMTP and TCP probes. They are metric label values, so
// they form closed sets: SMTPPhases() and TCPPhases().
const (
	PhaseConnect  = "connect"
	PhaseTLS      = "tls"
	PhaseBanner   = "banner"   // SMTP: the greeting
	PhaseEHLO     = "ehlo"     // SMTP: EHLO or HELO, before and after STARTTLS
	PhaseAuth     = "auth"     // SMTP: AUTH
	PhaseData     = "data"     // SMTP: MAIL, RCPT and DATA
	PhaseExchange = "exchange" // TCP: send and expect
)

// SMTPPhases lists every phase an SMTP probe may report, in order.
func SMTPPhases() []string {
	return []string{PhaseConnect, PhaseTLS, PhaseBanner, PhaseEHLO, PhaseAuth, PhaseData}
}

// TCPPhases lists every phase a TCP probe may report, in order.
func TCPPhases() []string {
	return []string{PhaseConnect, PhaseTLS, PhaseExchange}
}

// rejection is a failure the probe judged itself: a reply it did not want,
// or a feature the server lacks. Its message is final.
type rejection struct {
	reason Reason
	code   int // the reply code, 0 if none
	msg    string
}

func (r *rejection) Error() string { return r.msg }

// phaseTimer times consecutive phases of a conversation. Time spent in a
// phase entered more than once (EHLO before and after STARTTLS) adds up.
type phaseTimer struct {
	list  []Phase
	cur   int // index into list, -1 when no phase runs
	since time.Time
}

func newPhaseTimer() *phaseTimer { return &phaseTimer{cur: -1} }

// begin ends the running phase, if any, and starts name.
func (t *phaseTimer) begin(name string) {
	t.end()
	t.cur = len(t.list)
	for i, p := range t.list {
		if p.Name == name {
			t.cur = i
		}
	}
	if t.cur == len(t.list) {
		t.list = append(t.list, Phase{Name: name})
	}
	t.since = time.Now()
}

// end stops the running phase.
func (t *phaseTimer) end() {
	if t.cur >= 0 {
		t.list[t.cur].Duration += time.Since(t.since)
		t.cur = -1
	}
}

// phases ends the running phase and lists them in the order first entered.
func (t *phaseTimer) phases() []Phase {
	t.end()
	return t.list
}
