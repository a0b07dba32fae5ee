// Package acme is a simulated small SaaS — a web app, an API and a job queue —
// with faults that can be injected at run time. tocsin's demo runs a scripted
// outage against it, and tests drive it to replay real postmortems.
package acme

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Service is one simulated HTTP service with injectable latency and errors.
type Service struct {
	name string
	addr string

	mu      sync.Mutex
	srv     *http.Server // nil while refusing connections
	latency time.Duration
	status  int   // 0: healthy (200)
	served  int64 // requests answered
}

// StartService starts a service on a random loopback port.
func StartService(name string) (*Service, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("acme: listen %s: %w", name, err)
	}
	s := &Service{name: name, addr: ln.Addr().String()}
	s.serve(ln)
	return s, nil
}

func (s *Service) serve(ln net.Listener) {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// URL is the service's health endpoint.
func (s *Service) URL() string { return "http://" + s.addr + "/health" }

// Refuse stops listening: connections are refused until Accept.
func (s *Service) Refuse() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Accept listens again on the same address after Refuse.
func (s *Service) Accept() error {
	s.mu.Lock()
	up := s.srv != nil
	s.mu.Unlock()
	if up {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("acme: listen %s again: %w", s.name, err)
	}
	s.serve(ln)
	return nil
}

// SetLatency makes every response take at least d.
func (s *Service) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetStatus makes every response answer code (0 or 200: healthy).
func (s *Service) SetStatus(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = code
}

// Heal removes every injected fault.
func (s *Service) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency, s.status = 0, 0
}

// ServeHTTP answers like a health endpoint, with the injected faults.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	latency, code := s.latency, s.status
	s.served++
	s.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if code != 0 && code != http.StatusOK {
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"service":%q,"status":"error"}`, s.name)
		return
	}
	fmt.Fprintf(w, `{"service":%q,"status":"ok"}`, s.name)
}

// Requests is how many requests the service has taken.
func (s *Service) Requests() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served
}

// Close stops the service.
func (s *Service) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// Acme is the whole simulated SaaS.
type Acme struct {
	Web, API, Jobs *Service
	// Mail is the inbound SMTP endpoint.
	Mail *Mail
	// Queue is the background-job queue and its worker, when started.
	Queue *Jobs
}

// Start starts every service of the simulated SaaS on loopback.
func Start() (*Acme, error) {
	a := &Acme{}
	var err error
	for _, p := range []struct {
		s    **Service
		name string
	}{{&a.Web, "web-app"}, {&a.API, "api"}, {&a.Jobs, "jobs"}} {
		if *p.s, err = StartService(p.name); err != nil {
			a.Close()
			return nil, err
		}
	}
	if a.Mail, err = StartMail(); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// Close stops every service.
func (a *Acme) Close() {
	for _, s := range []*Service{a.Web, a.API, a.Jobs} {
		if s != nil {
			_ = s.Close()
		}
	}
	if a.Mail != nil {
		a.Mail.Close()
	}
}

// Heal removes every injected fault.
func (a *Acme) Heal() {
	a.Web.Heal()
	a.API.Heal()
	a.Jobs.Heal()
	_ = a.Mail.Heal()
}
