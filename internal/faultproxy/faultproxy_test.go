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
