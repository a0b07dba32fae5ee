package smtp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// maxReplyBytes bounds what the server may send between two writes of the
// client: one reply, or a TLS handshake flight after STARTTLS (Go accepts
// certificate messages up to 256 KiB). go-smtp limits the length of a line
// but not the number of lines in a reply; this limits both.
const maxReplyBytes = 1 << 20

// errReplyTooLong is returned by reads past maxReplyBytes.
var errReplyTooLong = fmt.Errorf("server sent more than %d KiB without waiting for the client", maxReplyBytes>>10)

// replayConn is the connection handed to go-smtp. It
//
//   - first replays the greeting the probe already read (go-smtp reads the
//     greeting itself and keeps no text of it, but expect_banner needs it),
//     then reads on from where the probe's reader stopped;
//   - ignores SetDeadline: go-smtp sets a deadline per command from its own
//     timeouts and clears it afterwards, leaving the message body and the
//     gaps between commands with none. The underlying connection carries
//     the check's deadline instead, set once when dialing;
//   - bounds the bytes read between two writes (maxReplyBytes);
//   - closes the TCP connection itself on Close, never sending a TLS
//     close_notify, whose write could block past the deadline.
type replayConn struct {
	net.Conn           // the transport: TCP or TLS; writes go here
	replay   []byte    // greeting bytes not yet returned
	r        io.Reader // reads after the replay
	raw      net.Conn  // the TCP connection, closed by Close
	unread   int       // bytes read since the last write
}

var _ net.Conn = (*replayConn)(nil)

func newReplayConn(transport, raw net.Conn, greeting []byte, r io.Reader) *replayConn {
	return &replayConn{Conn: transport, replay: greeting, r: r, raw: raw}
}

// Read returns the replayed greeting first, then what the server sends.
func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.replay) > 0 {
		n := copy(p, c.replay)
		c.replay = c.replay[n:]
		return n, nil
	}
	if c.unread >= maxReplyBytes {
		return 0, errReplyTooLong
	}
	if room := maxReplyBytes - c.unread; len(p) > room {
		p = p[:room]
	}
	n, err := c.r.Read(p)
	c.unread += n
	return n, err
}

// Write sends p and resets the read budget: the server may answer anew.
func (c *replayConn) Write(p []byte) (int, error) {
	c.unread = 0
	return c.Conn.Write(p)
}

// Close closes the TCP connection.
func (c *replayConn) Close() error { return c.raw.Close() }

// SetDeadline is a no-op: the check's deadline stays in force.
func (c *replayConn) SetDeadline(time.Time) error { return nil }

// SetReadDeadline is a no-op: the check's deadline stays in force.
func (c *replayConn) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline is a no-op: the check's deadline stays in force.
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }

// isReplyTooLong reports whether err is the read budget running out.
func isReplyTooLong(err error) bool { return errors.Is(err, errReplyTooLong) }
