package probe

import "time"

// Phase names of the TCP probe, and the first two of the SMTP probe's
// (probe/smtp/smtp.go). They are metric label values, so they form closed
// sets: TCPPhases() and smtp.Phases().
const (
	PhaseConnect  = "connect"
	PhaseTLS      = "tls"
	PhaseExchange = "exchange" // TCP: send and expect
)

// TCPPhases lists every phase a TCP probe may report, in order.
func TCPPhases() []string {
	return []string{PhaseConnect, PhaseTLS, PhaseExchange}
}

// Rejection is a failure a TCP or SMTP probe judged itself: a reply it did
// not want, or a feature the server lacks. Its message is final.
type Rejection struct {
	Reason  Reason
	Code    int // the reply code, 0 if none
	Message string
}

func (r *Rejection) Error() string { return r.Message }

// PhaseTimer times consecutive phases of a conversation (TCP, SMTP). Time
// spent in a phase entered more than once (EHLO before and after STARTTLS)
// adds up.
type PhaseTimer struct {
	list  []Phase
	cur   int // index into list, -1 when no phase runs
	since time.Time
}

// NewPhaseTimer returns a timer with no phase running.
func NewPhaseTimer() *PhaseTimer { return &PhaseTimer{cur: -1} }

// Begin ends the running phase, if any, and starts name.
func (t *PhaseTimer) Begin(name string) {
	t.End()
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

// End stops the running phase.
func (t *PhaseTimer) End() {
	if t.cur >= 0 {
		t.list[t.cur].Duration += time.Since(t.since)
		t.cur = -1
	}
}

// Phases ends the running phase and lists them in the order first entered.
func (t *PhaseTimer) Phases() []Phase {
	t.End()
	return t.list
}
