package probe

import (
	"crypto/tls"
	"net/http/httptrace"
	"sync"
	"time"
)

// Stages of an HTTP exchange, phrased to follow "timed out ...".
const (
	stageDNS     = "resolving the host name"
	stageConnect = "connecting"
	stageTLS     = "in the TLS handshake"
	stageSend    = "sending the request"
	stageWait    = "waiting for response headers"
	stageHeaders = "reading response headers"
	stageBody    = "reading the response body"
)

// tracer records per-phase timings and the stage an exchange has reached.
// httptrace hooks may run on other goroutines (parallel dials), hence the
// mutex. Across redirects, dns/connect/tls add up over the hops and
// first_byte is measured to the last response.
type tracer struct {
	mu    sync.Mutex
	start time.Time
	stage string

	dnsStart, connStart, tlsStart time.Time
	dns, connect, tls             time.Duration
	sawDNS, sawConnect, sawTLS    bool
	firstByte                     time.Duration
	sawFirstByte                  bool
}

func newTracer(start time.Time) *tracer { return &tracer{start: start} }

// clientTrace returns the hooks that feed t.
func (t *tracer) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.stage, t.dnsStart = stageDNS, time.Now()
		},
		DNSDone: func(httptrace.DNSDoneInfo) {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.dns += since(t.dnsStart)
			t.sawDNS = true
		},
		ConnectStart: func(string, string) {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.stage = stageConnect
			// Parallel attempts (happy eyeballs): time from the first start.
			if t.connStart.IsZero() {
				t.connStart = time.Now()
			}
		},
		ConnectDone: func(string, string, error) {
			t.mu.Lock()
			defer t.mu.Unlock()
			if !t.connStart.IsZero() {
				t.connect += since(t.connStart)
				t.connStart = time.Time{}
				t.sawConnect = true
			}
		},
		TLSHandshakeStart: func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.stage, t.tlsStart = stageTLS, time.Now()
		},
		TLSHandshakeDone: func(tls.ConnectionState, error) {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.tls += since(t.tlsStart)
			t.sawTLS = true
		},
		GotConn:              func(httptrace.GotConnInfo) { t.setStage(stageSend) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { t.setStage(stageWait) },
		GotFirstResponseByte: t.gotFirstByte,
	}
}

func (t *tracer) gotFirstByte() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stage = stageHeaders
	t.firstByte = since(t.start)
	t.sawFirstByte = true
}

func (t *tracer) setStage(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stage = s
}

// currentStage is where the exchange is now, "" before it began.
func (t *tracer) currentStage() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stage
}

// phases lists the phases that happened, in order.
func (t *tracer) phases() []Phase {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ps []Phase
	add := func(ok bool, name string, d time.Duration) {
		if ok {
			ps = append(ps, Phase{Name: name, Duration: d})
		}
	}
	add(t.sawDNS, "dns", t.dns)
	add(t.sawConnect, "connect", t.connect)
	add(t.sawTLS, "tls", t.tls)
	add(t.sawFirstByte, "first_byte", t.firstByte)
	return ps
}

// since is time.Since that tolerates a missing start.
func since(start time.Time) time.Duration {
	if start.IsZero() {
		return 0
	}
	return time.Since(start)
}
