package acme

import (
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// Mail is the simulated SaaS's inbound mail endpoint: an SMTP server that
// accepts every message. Partition makes it stop answering — a network
// partition, as in the Help Scout postmortem — and Heal brings it back on
// the same port.
type Mail struct {
	addr     string
	received atomic.Int64

	mu  sync.Mutex
	srv *smtp.Server
}

// StartMail starts the SMTP endpoint on a random loopback port.
func StartMail() (*Mail, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("acme: listen mail: %w", err)
	}
	m := &Mail{addr: ln.Addr().String()}
	m.serve(ln)
	return m, nil
}

// Addr is host:port of the SMTP endpoint.
func (m *Mail) Addr() string { return m.addr }

// Received counts the messages accepted so far.
func (m *Mail) Received() int64 { return m.received.Load() }

func (m *Mail) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{m: m}, nil }))
	srv.Domain = "mx.acme.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0)
	m.mu.Lock()
	m.srv = srv
	m.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Partition stops the endpoint: connections are refused until Heal.
func (m *Mail) Partition() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.srv != nil {
		_ = m.srv.Close()
		m.srv = nil
	}
}

// Heal serves again on the same address.
func (m *Mail) Heal() error {
	m.mu.Lock()
	up := m.srv != nil
	m.mu.Unlock()
	if up {
		return nil
	}
	ln, err := net.Listen("tcp", m.addr)
	if err != nil {
		return fmt.Errorf("acme: listen mail again: %w", err)
	}
	m.serve(ln)
	return nil
}

// Close stops the endpoint for good.
func (m *Mail) Close() { m.Partition() }

type mailSession struct{ m *Mail }

func (s *mailSession) Reset()                               {}
func (s *mailSession) Logout() error                        { return nil }
func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *mailSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.m.received.Add(1)
	return nil
}
