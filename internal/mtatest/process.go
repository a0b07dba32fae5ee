package mtatest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/tocsin/tocsin/internal/testproc"
)

// process is one run of the exim daemon.
type process struct{ *testproc.Process }

// start runs the exim daemon in the foreground (-bdf) with the MTA's
// configuration and waits until it greets on Addr. The caller holds no lock.
func (m *MTA) start() error {
	// -oX repeats local_interfaces from the configuration; given on the
	// command line it also stops exim writing a pid file, which it would
	// otherwise remove at SIGTERM by forking a child that inherits the
	// listening sockets, keeping the ports open after the daemon is gone.
	listen := fmt.Sprintf("127.0.0.1.%d:127.0.0.1.%d", m.port, m.tlsPort)
	cmd := exec.Command(m.bin, "-C", m.path("exim.conf"), "-bdf", "-oX", listen)
	cmd.Dir = m.dir
	// In a group of its own, so Stop reaches the connection children too.
	tp, err := testproc.StartInGroup(cmd, m.path("exim.out"))
	if err != nil {
		return err
	}
	p := &process{tp}
	if err := m.waitReady(p); err != nil {
		p.stop()
		return fmt.Errorf("ports %d and %d: %w", m.port, m.tlsPort, err)
	}
	m.mu.Lock()
	m.proc = p
	m.mu.Unlock()
	return nil
}

// waitReady waits until the daemon p has logged that it started — which it
// does only after binding both ports, so the ports are its and not another
// test's — and the plain port greets with 220 ServerName.
func (m *MTA) waitReady(p *process) error {
	started := []byte(fmt.Sprintf("daemon started: pid=%d,", p.Cmd.Process.Pid))
	return p.WaitReady(startTimeout, 20*time.Millisecond, func() error {
		if log, _ := m.mainLog(); !bytes.Contains(log, started) {
			return errors.New("daemon has not logged that it started")
		}
		return greet(m.Addr())
	})
}

// greet connects to addr, expects a 220 greeting naming ServerName and says
// QUIT.
func greet(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return err
	}
	r := textproto.NewReader(bufio.NewReader(conn))
	_, msg, err := r.ReadResponse(220)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	if !strings.HasPrefix(msg, ServerName+" ") {
		return fmt.Errorf("greeting %q does not start with %s", msg, ServerName)
	}
	_, err = conn.Write([]byte("QUIT\r\n"))
	return err
}

// stop sends SIGTERM to the daemon's process group and waits until every
// process in it has exited, so the ports refuse connections and nothing
// writes to the spool any more. It kills the group if that takes longer
// than stopTimeout.
func (p *process) stop() {
	pid := p.Cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	deadline := time.Now().Add(stopTimeout)
	select {
	case <-p.Done():
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-p.Done()
	}
	// Children outlive the daemon for a moment: connections finishing
	// after SIGTERM, deliveries.
	for testproc.Running(pid, nil) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
