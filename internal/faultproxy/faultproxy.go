// Package faultproxy is a TCP proxy on loopback for tests that need a
// network fault a real server cannot produce: a blackhole, where the peer
// accepts connections and never answers (a partition, a frozen host), as
// opposed to a stopped server, which refuses them at once.
package faultproxy

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards connections to a target until it is blackholed.
type Proxy struct {
	ln     net.Listener
	target string

	mu        sync.Mutex
	blackhole bool
	// from are the client addresses blackholed on their own (BlackholeFrom).
	from map[string]bool
	// conns are the client connections and their upstream (nil while
	// blackholed); held ones are kept open, silent, until the hole ends.
	conns map[net.Conn]net.Conn
	// peers are the client IP addresses seen, in order, one per connection.
	peers []string
	wg    sync.WaitGroup
}

// Start listens on a free loopback port and forwards to target; it stops
// when the test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faultproxy: listen: %v", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]net.Conn{}, from: map[string]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Blackhole starts (true) or ends (false) the blackhole. While it lasts,
// connections are accepted, bytes sent are read and dropped, and nothing
// comes back; connections that were open when it began go silent too.
// When it ends, every connection that lived through it is closed (as a
// peer that comes back resets them) and new ones are forwarded again.
func (p *Proxy) Blackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.blackhole == on {
		return
	}
	p.blackhole = on
	p.applyLocked(func(string) bool { return true })
}

// BlackholeFrom is Blackhole for the clients connecting from the IP
// address ip only, as a partition between one vantage and the target:
// the others are forwarded as before.
func (p *Proxy) BlackholeFrom(ip string, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.from[ip] == on {
		return
	}
	p.from[ip] = on
	p.applyLocked(func(host string) bool { return host == ip })
}

// holedLocked reports whether connections from host are swallowed.
func (p *Proxy) holedLocked(host string) bool { return p.blackhole || p.from[host] }

// applyLocked brings the connections from the hosts a change touched in
// line with the holes: a holed one loses its upstream and goes silent;
// one no longer holed that lived through the hole is closed, as a peer
// that comes back resets it.
func (p *Proxy) applyLocked(touched func(host string) bool) {
	for c, up := range p.conns {
		host := hostOf(c)
		if !touched(host) {
			continue
		}
		if !p.holedLocked(host) {
			_ = c.Close()
			if up != nil {
				_ = up.Close()
			}
			delete(p.conns, c)
			continue
		}
		if up != nil {
			_ = up.Close() // stops forwarding; the client side stays open
			p.conns[c] = nil
		}
	}
}

// hostOf is the IP address a client connection comes from.
func hostOf(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return ""
	}
	return host
}

// Peers returns the IP address each connection came from, in the order
// their connections were served (connections made together may be served
// in either order): what a server sees of its clients' source addresses.
func (p *Proxy) Peers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.peers...)
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for c, up := range p.conns {
		_ = c.Close()
		if up != nil {
			_ = up.Close()
		}
	}
	clear(p.conns)
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c)
		}()
	}
}

// serve forwards one connection, or swallows it while blackholed.
func (p *Proxy) serve(c net.Conn) {
	host := hostOf(c)
	p.mu.Lock()
	hole := p.holedLocked(host)
	p.conns[c] = nil
	p.peers = append(p.peers, host)
	p.mu.Unlock()
	var up net.Conn
	if !hole {
		var err error
		if up, err = net.Dial("tcp", p.target); err != nil {
			p.drop(c)
			return
		}
		p.mu.Lock()
		if p.holedLocked(host) { // began while dialling
			_ = up.Close()
			up = nil
		} else {
			p.conns[c] = up
		}
		p.mu.Unlock()
	}
	if up == nil {
		_, _ = io.Copy(io.Discard, c) // until the client or the end of the hole closes it
		p.drop(c)
		return
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(c, up) // ends when up is closed (a hole began) or the target closes
		close(done)
	}()
	_, _ = io.Copy(up, c)
	_ = up.Close()
	<-done
	p.mu.Lock()
	hole = p.holedLocked(host)
	p.mu.Unlock()
	if hole {
		// The hole began: the client's connection stays open and silent.
		_, _ = io.Copy(io.Discard, c)
	}
	p.drop(c)
}

func (p *Proxy) drop(c net.Conn) {
	_ = c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}
