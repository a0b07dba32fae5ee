package probetest

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// NewServer starts an httptest server that keeps its error log quiet
// (failed TLS handshakes are the point of several tests).
func NewServer(t testing.TB, h http.Handler, cert *tls.Certificate, edits ...func(*http.Server)) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	for _, edit := range edits {
		edit(s.Config)
	}
	if cert == nil {
		s.Start()
	} else {
		s.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
		s.StartTLS()
	}
	t.Cleanup(s.Close)
	return s
}

// RawServer accepts TCP connections on 127.0.0.1 and hands each to handle.
// For faults a real server can't produce. Cleanup closes the listener and
// every connection and waits for the handlers.
func RawServer(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { handle(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// DeadPort returns a loopback address where nothing listens.
func DeadPort(t testing.TB) string {
	t.Helper()
	// 127.0.0.2 (still loopback): every test server binds 127.0.0.1, so a
	// parallel test cannot grab the freed port between Close and the probe.
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Flood writes text to w forever, until the client hangs up.
func Flood(w io.Writer, text string) {
	chunk := strings.Repeat(text, 64<<10/len(text)+1)
	for {
		if _, err := io.WriteString(w, chunk); err != nil {
			return
		}
	}
}
