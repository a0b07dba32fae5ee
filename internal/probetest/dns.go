package probetest

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
)

// FakeDNS starts a DNS server on 127.0.0.1 UDP that answers A queries for
// hosts, NOERROR with no answer for other types of known names, and
// NXDOMAIN for everything else. The returned resolver talks only to it, so
// no test ever reaches a real name server.
func FakeDNS(t testing.TB, hosts map[string]net.IP) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply := dnsReply(buf[:n], hosts); reply != nil {
				_, _ = pc.WriteTo(reply, from)
			}
		}
	})
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	addr := pc.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		},
	}
}

// dnsReply answers one query (RFC 1035 §4.1), nil if it can't be parsed.
func dnsReply(q []byte, hosts map[string]net.IP) []byte {
	if len(q) < 12 || q[4] != 0 || q[5] != 1 { // exactly one question
		return nil
	}
	var labels []string
	off := 12
	for off < len(q) && q[off] != 0 {
		l := int(q[off])
		if l > 63 || off+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[off+1:off+1+l]))
		off += 1 + l
	}
	off++ // the root label
	if off+4 > len(q) {
		return nil
	}
	qtype := int(q[off])<<8 | int(q[off+1])
	question := q[12 : off+4]
	ip, known := hosts[strings.ToLower(strings.Join(labels, "."))]
	rcode, answers := byte(0), byte(0)
	switch {
	case !known:
		rcode = 3 // NXDOMAIN
	case qtype == 1:
		answers = 1
	}
	r := []byte{q[0], q[1], 0x80 | q[2]&0x79 | 0x04, 0x80 | rcode, 0, 1, 0, answers, 0, 0, 0, 0}
	r = append(r, question...)
	if answers == 1 {
		r = append(r, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
		r = append(r, ip.To4()...)
	}
	return r
}
