package smtp

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		code  int
		lines []string
		err   string // substring of the error; "" for none
	}{
		{name: "one line", in: "220 mx.tocsin.test ESMTP\r\n", code: 220, lines: []string{"mx.tocsin.test ESMTP"}},
		{name: "bare LF", in: "250 ok\n", code: 250, lines: []string{"ok"}},
		{name: "code only", in: "250\r\n", code: 250, lines: []string{""}},
		{name: "multi-line", in: "250-mx hello\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n", code: 250,
			lines: []string{"mx hello", "PIPELINING", "AUTH PLAIN LOGIN"}},
		{name: "multi-line ending in code only", in: "220-a\r\n220\r\n", code: 220, lines: []string{"a", ""}},
		{name: "stops at the reply's end", in: "250 first\r\n250 second\r\n", code: 250, lines: []string{"first"}},
		{name: "empty", in: "", err: "EOF"},
		{name: "cut mid-line", in: "220 mx", err: "unexpected EOF"},
		{name: "cut after a continuation", in: "250-mx\r\n", err: "unexpected EOF"},
		{name: "not a code", in: "HELLO there\r\n", err: `malformed reply: "HELLO there"`},
		{name: "short", in: "22\r\n", err: "malformed reply"},
		{name: "bad separator", in: "220_mx\r\n", err: "malformed reply"},
		{name: "code out of range", in: "099 hi\r\n", err: "code 99 out of range"},
		{name: "code too high", in: "600 hi\r\n", err: "code 600 out of range"},
		{name: "mixed codes", in: "250-a\r\n251 b\r\n", err: "code 251 after 250"},
		{name: "long line", in: "220 " + strings.Repeat("x", maxReplyLine) + "\r\n", err: "line longer than 2000 bytes"},
		{name: "line at the limit", in: "220 " + strings.Repeat("x", maxReplyLine-6) + "\r\n", code: 220,
			lines: []string{strings.Repeat("x", maxReplyLine-6)}},
		{name: "too many lines", in: strings.Repeat("220-x\r\n", maxReplyLines) + "220 x\r\n", err: "more than 100 lines"},
		{name: "most lines", in: strings.Repeat("220-x\r\n", maxReplyLines-1) + "220 x\r\n", code: 220,
			lines: strings.Split(strings.Repeat("x,", maxReplyLines-1)+"x", ",")},
		{name: "control bytes quoted", in: "\x1b[2J\x00\r\n", err: `"\x1b[2J\x00"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// One byte per read: lines arrive in pieces, as over TCP.
			br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(tt.in)), 16)
			rep, err := readReply(br)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("readReply: %v", err)
			}
			if rep.Code != tt.code || !reflect.DeepEqual(rep.Lines, tt.lines) {
				t.Errorf("got %d %q, want %d %q", rep.Code, rep.Lines, tt.code, tt.lines)
			}
			if !strings.HasPrefix(tt.in, string(rep.raw)) {
				t.Errorf("raw = %q, not a prefix of the input", rep.raw)
			}
		})
	}
}

func TestReadReplyEOF(t *testing.T) {
	t.Parallel()
	_, err := readReply(bufio.NewReader(strings.NewReader("")))
	if !errors.Is(err, io.EOF) {
		t.Errorf("err = %v, want io.EOF", err)
	}
	_, err = readReply(bufio.NewReader(strings.NewReader("250-a\r\n")))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestReadReplyEndless feeds endless input and checks the reader stops
// after a bounded amount.
func TestReadReplyEndless(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, pattern, err string }{
		{"endless line", "x", "line longer than"},
		{"endless multi-line", "250-x\r\n", "more than 100 lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := &countingReader{r: endless(tt.pattern)}
			_, err := readReply(bufio.NewReader(src))
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
			if max := maxReplyLines*maxReplyLine + 4096; src.n > max {
				t.Errorf("read %d bytes, want at most %d", src.n, max)
			}
		})
	}
}

func TestReplyFormat(t *testing.T) {
	t.Parallel()
	r := Reply{Code: 421, Lines: []string{"mx.example busy", "try later"}}
	if got := r.String(); got != "421 mx.example busy try later" {
		t.Errorf("String() = %q", got)
	}
	if got := r.FirstLine(); got != "421 mx.example busy" {
		t.Errorf("FirstLine() = %q", got)
	}
	if got := (Reply{Code: 250}).String(); got != "250" {
		t.Errorf("String() = %q", got)
	}
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"plain text":              "plain text",
		"tabs\tand\r\nbreaks":     "tabs and breaks",
		"esc\x1b[31mred\x00":      "esc?[31mred?",
		"bad utf8 \xff\xfe here":  "bad utf8 ?? here",
		"  leading and trailing ": "leading and trailing",
	}
	for in, want := range tests {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzReadReply checks the reply reader never panics, reads a bounded
// amount, and returns only well-formed replies.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"220 mx.tocsin.test ESMTP Exim 4.96\r\n",
		"250-mx\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n",
		"421 busy\n",
		"250\r\n",
		"",
		"garbage\r\n",
		"250-a\r\n251 b\r\n",
		"999 x\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		src := &countingReader{r: strings.NewReader(string(in))}
		rep, err := readReply(bufio.NewReaderSize(src, 64))
		if max := maxReplyLines*maxReplyLine + 64; src.n > max {
			t.Fatalf("read %d bytes, want at most %d", src.n, max)
		}
		if len(rep.raw) > maxReplyLines*maxReplyLine {
			t.Fatalf("raw holds %d bytes", len(rep.raw))
		}
		if err != nil {
			return
		}
		if rep.Code < 100 || rep.Code > 599 {
			t.Fatalf("code %d out of range", rep.Code)
		}
		if len(rep.Lines) == 0 || len(rep.Lines) > maxReplyLines {
			t.Fatalf("%d lines", len(rep.Lines))
		}
		if !strings.HasPrefix(string(in), string(rep.raw)) {
			t.Fatalf("raw %q is not a prefix of the input", rep.raw)
		}
		// What was read parses again to the same reply: the replay is faithful.
		again, err := readReply(bufio.NewReader(strings.NewReader(string(rep.raw))))
		if err != nil || again.Code != rep.Code || !reflect.DeepEqual(again.Lines, rep.Lines) {
			t.Fatalf("replay of %q gave %v, %v", rep.raw, again, err)
		}
	})
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// endless repeats pattern forever.
func endless(pattern string) io.Reader { return &repeater{pattern: pattern} }

type repeater struct {
	pattern string
	off     int
}

func (r *repeater) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.pattern[r.off]
		r.off = (r.off + 1) % len(r.pattern)
	}
	return len(p), nil
}
