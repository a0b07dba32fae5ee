package faultproxy

import (
	"bufio"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// echo serves lines back on a loopback port.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line on c and reads one back within wait.
func roundTrip(c net.Conn, wait time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(wait)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err == nil && line != "ping\n" {
		return errors.New("wrong reply " + line)
	}
	return err
}

func TestProxyForwardsAndBlackholes(t *testing.T) {
	t.Parallel()
	p := Start(t, echo(t))
	dial := func() net.Conn {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	before := dial()
	if err := roundTrip(before, 5*time.Second); err != nil {
		t.Fatalf("forwarding: %v", err)
	}

	p.Blackhole(true)
	// Accepted, never answered: a timeout, not a refusal or a reset.
	for name, c := range map[string]net.Conn{"new": dial(), "open before": before} {
		if err := roundTrip(c, 200*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s connection in the hole: %v, want a timeout", name, err)
		}
	}

	p.Blackhole(false)
	if err := roundTrip(dial(), 5*time.Second); err != nil {
		t.Fatalf("after the hole: %v", err)
	}
	if err := roundTrip(before, 5*time.Second); err == nil {
		t.Error("a connection that lived through the hole still works; it should have been reset")
	}
}

// TestProxyBlackholesOneSource: a hole for one client address (a
// partition between one vantage and the target) swallows its connections,
// old and new, and forwards every other address's.
func TestProxyBlackholesOneSource(t *testing.T) {
	t.Parallel()
	p := Start(t, echo(t))
	dialFrom := func(ip string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatalf("dial from %s: %v", ip, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	cut, other := dialFrom("127.0.0.2"), dialFrom("127.0.0.3")
	for _, c := range []net.Conn{cut, other} {
		if err := roundTrip(c, 5*time.Second); err != nil {
			t.Fatalf("forwarding: %v", err)
		}
	}

	p.BlackholeFrom("127.0.0.2", true)
	for name, c := range map[string]net.Conn{"new": dialFrom("127.0.0.2"), "open before": cut} {
		if err := roundTrip(c, 200*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s connection from 127.0.0.2 in its hole: %v, want a timeout", name, err)
		}
	}
	for name, c := range map[string]net.Conn{"new": dialFrom("127.0.0.3"), "open before": other} {
		if err := roundTrip(c, 5*time.Second); err != nil {
			t.Errorf("%s connection from 127.0.0.3 beside the hole: %v", name, err)
		}
	}

	p.BlackholeFrom("127.0.0.2", false)
	if err := roundTrip(dialFrom("127.0.0.2"), 5*time.Second); err != nil {
		t.Fatalf("from 127.0.0.2 after its hole: %v", err)
	}
	if err := roundTrip(other, 5*time.Second); err != nil {
		t.Errorf("the other address's connection after the hole ended: %v", err)
	}
	// Connections dialled together may be served in either order.
	count := map[string]int{}
	for _, ip := range p.Peers() {
		count[ip]++
	}
	if count["127.0.0.2"] != 3 || count["127.0.0.3"] != 2 || len(count) != 2 {
		t.Errorf("Peers() = %v, want three connections from 127.0.0.2 and two from 127.0.0.3", p.Peers())
	}
}
