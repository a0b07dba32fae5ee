package smtp

import (
	"bufio"
	"cmp"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/probetest"
	"github.com/tocsin/tocsin/probe"
)

// fakeSMTP is a scriptable SMTP server for faults a real MTA can't
// produce. It answers like a small, well-behaved MTA unless on returns a
// reply of its own for a command line.
type fakeSMTP struct {
	greeting string      // written on connect, raw; "" writes nothing
	ehlo     string      // extra EHLO keywords, e.g. "AUTH PLAIN LOGIN"
	tls      *tls.Config // offers STARTTLS when set
	implicit bool        // with tls: TLS from the start instead
	// on returns the raw reply to a command line ("." for the end of a
	// message), or "" for the default.
	on       func(string) string
	messages chan string // receives each message body, if not nil
}

// hangUp, returned by on, makes the server close the connection;
// hangUpAfterReply, at the end of a reply, closes it after the reply.
const (
	hangUp           = "<hang up>"
	hangUpAfterReply = "<then hang up>"
)

// start serves f on 127.0.0.1 and returns its address.
func (f fakeSMTP) start(t *testing.T) string {
	t.Helper()
	return probetest.RawServer(t, f.serve)
}

func (f fakeSMTP) serve(c net.Conn) {
	defer c.Close()
	if f.implicit {
		tc := tls.Server(c, f.tls)
		if tc.Handshake() != nil {
			return
		}
		c, f.tls = tc, nil
	}
	if _, err := io.WriteString(c, f.greeting); err != nil {
		return
	}
	br := bufio.NewReader(c)
	prev := "" // the previous reply
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(line, "\r\n")
		reply := ""
		if f.on != nil {
			reply = f.on(cmd)
		}
		if reply == "" {
			reply = f.answer(cmd, prev)
		}
		if reply == hangUp {
			return
		}
		reply, last := strings.CutSuffix(reply, hangUpAfterReply)
		if _, err := io.WriteString(c, reply); err != nil || last {
			return
		}
		prev = reply
		switch {
		case strings.EqualFold(cmd, "QUIT"):
			return
		case strings.HasPrefix(reply, "354"):
			if prev = f.readBody(c, br); prev == hangUp {
				return
			}
		case strings.EqualFold(cmd, "STARTTLS") && f.tls != nil && strings.HasPrefix(reply, "220"):
			tc := tls.Server(c, f.tls)
			if tc.Handshake() != nil {
				return
			}
			c, br = tc, bufio.NewReader(tc)
		}
	}
}

// answer is the default reply to cmd, given the previous reply.
func (f fakeSMTP) answer(cmd, prev string) string {
	if strings.HasPrefix(prev, "334 ") { // a SASL response
		if prev == "334 VXNlcm5hbWU6\r\n" {
			return "334 UGFzc3dvcmQ6\r\n" // "Password:"
		}
		return "235 2.7.0 authenticated\r\n"
	}
	verb, arg, _ := strings.Cut(cmd, " ")
	switch strings.ToUpper(verb) {
	case "EHLO":
		ext := []string{"fake.tocsin.test hello", "8BITMIME"}
		if f.tls != nil {
			ext = append(ext, "STARTTLS")
		}
		if f.ehlo != "" {
			ext = append(ext, f.ehlo)
		}
		return multiline(250, ext...)
	case "HELO", "MAIL", "RCPT", "RSET", "NOOP":
		return "250 ok\r\n"
	case "STARTTLS":
		return "220 go ahead\r\n"
	case "AUTH":
		switch mech, ir, _ := strings.Cut(arg, " "); {
		case strings.EqualFold(mech, "LOGIN") && ir == "":
			return "334 VXNlcm5hbWU6\r\n" // "Username:"
		case strings.EqualFold(mech, "LOGIN"):
			return "334 UGFzc3dvcmQ6\r\n"
		}
		return "235 2.7.0 authenticated\r\n"
	case "DATA":
		return "354 go ahead\r\n"
	case "QUIT":
		return "221 bye\r\n"
	}
	return "500 unknown command\r\n"
}

// readBody reads a message up to the lone dot, answers it and returns the
// answer (hangUp if the connection ended).
func (f fakeSMTP) readBody(w io.Writer, br *bufio.Reader) string {
	var body strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return hangUp
		}
		if line == ".\r\n" {
			break
		}
		body.WriteString(line)
	}
	if f.messages != nil {
		f.messages <- body.String()
	}
	reply := "250 2.0.0 queued as FAKE\r\n"
	if f.on != nil {
		reply = cmp.Or(f.on("."), reply)
	}
	if reply == hangUp {
		return hangUp
	}
	if _, err := io.WriteString(w, reply); err != nil {
		return hangUp
	}
	return reply
}

// multiline formats a reply of several lines.
func multiline(code int, lines ...string) string {
	var b strings.Builder
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		fmt.Fprintf(&b, "%03d%s%s\r\n", code, sep, l)
	}
	return b.String()
}

// mustSMTP builds a prober or fails the test.
func mustSMTP(t *testing.T, c config.SMTPCheck, o probe.Options) *SMTP {
	t.Helper()
	s, err := New("", c, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}
