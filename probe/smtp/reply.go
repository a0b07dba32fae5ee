package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tocsin/tocsin/probe"
)

// Bounds on one SMTP reply read by readReply. RFC 5321 §4.5.3.1.5 limits a
// reply line to 512 bytes; real servers exceed it, so the line limit is the
// one go-smtp uses (twice the RFC's 1000-byte text line). No sane reply has
// more than a few dozen lines (an EHLO with every extension).
const (
	maxReplyLine  = 2000
	maxReplyLines = 100
)

// errMalformedReply marks a reply that does not follow RFC 5321 §4.2.
var errMalformedReply = errors.New("malformed reply")

// Reply is one SMTP reply: a three-digit code and the text of its lines,
// without the code, the separator and the line ending.
type Reply struct {
	Code  int
	Lines []string
	// raw holds the bytes read, line endings included, so the reply can be
	// replayed to a parser that wants to read it itself.
	raw []byte
}

// Text joins the reply's lines with spaces, for messages.
func (r Reply) Text() string { return strings.Join(r.Lines, " ") }

// String is the reply as people quote it: "421 mx.example busy".
func (r Reply) String() string {
	if t := r.Text(); t != "" {
		return strconv.Itoa(r.Code) + " " + t
	}
	return strconv.Itoa(r.Code)
}

// FirstLine is the first line as sent, code included ("220 mx ESMTP").
func (r Reply) FirstLine() string {
	if len(r.Lines) == 0 {
		return strconv.Itoa(r.Code)
	}
	return strconv.Itoa(r.Code) + " " + r.Lines[0]
}

// readReply reads one reply from r: lines "CODE-text" ending with a line
// "CODE text" or "CODE". Lines end in CRLF; a bare LF is accepted, as most
// clients do. Every line must carry the same code, in 100-599. At most
// maxReplyLines lines of at most maxReplyLine bytes are read, so a hostile
// server can make it read no more than their product. io.EOF means the
// connection closed before the reply began, io.ErrUnexpectedEOF within it.
func readReply(r *bufio.Reader) (Reply, error) {
	var rep Reply
	for n := 0; ; n++ {
		if n == maxReplyLines {
			return rep, fmt.Errorf("%w: more than %d lines", errMalformedReply, maxReplyLines)
		}
		line, err := readLine(r, maxReplyLine)
		rep.raw = append(rep.raw, line...)
		if err != nil {
			if (errors.Is(err, io.EOF) && n > 0) || errors.Is(err, io.ErrUnexpectedEOF) {
				return rep, io.ErrUnexpectedEOF
			}
			return rep, err
		}
		code, last, text, err := parseReplyLine(line)
		if err != nil {
			return rep, err
		}
		if n > 0 && code != rep.Code {
			return rep, fmt.Errorf("%w: code %d after %d in one reply", errMalformedReply, code, rep.Code)
		}
		rep.Code = code
		rep.Lines = append(rep.Lines, text)
		if last {
			return rep, nil
		}
	}
}

// readLine reads through the next '\n', at most limit bytes. A line cut by
// the end of the stream is returned with io.ErrUnexpectedEOF (io.EOF when
// nothing was read).
func readLine(r *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > limit {
			return nil, fmt.Errorf("%w: line longer than %d bytes", errMalformedReply, limit)
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(line) > 0:
			return line, io.ErrUnexpectedEOF
		}
		return line, err
	}
}

// parseReplyLine splits "250-text\r\n" into its code, whether it is the last
// line of the reply and its text.
func parseReplyLine(line []byte) (code int, last bool, text string, err error) {
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if len(line) < 3 {
		return 0, false, "", fmt.Errorf("%w: %s", errMalformedReply, probe.QuotePeer(line))
	}
	for _, c := range line[:3] {
		if c < '0' || c > '9' {
			return 0, false, "", fmt.Errorf("%w: %s", errMalformedReply, probe.QuotePeer(line))
		}
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if code < 100 || code > 599 {
		return 0, false, "", fmt.Errorf("%w: code %d out of range", errMalformedReply, code)
	}
	if len(line) == 3 {
		return code, true, "", nil
	}
	switch line[3] {
	case ' ':
		return code, true, string(line[4:]), nil
	case '-':
		return code, false, string(line[4:]), nil
	}
	return 0, false, "", fmt.Errorf("%w: %s", errMalformedReply, probe.QuotePeer(line))
}

// sanitize makes text a peer sent safe to show: control characters and
// invalid UTF-8 become '?', runs of white space one space. It does not
// clip (probe.Clip): secrets are scrubbed from the whole message first, so
// that a cut never leaves part of one behind.
func sanitize(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			space = true
			continue
		case r == utf8.RuneError || !unicode.IsPrint(r):
			r = '?'
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}
