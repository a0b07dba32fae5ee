package mtatest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one run of the exim daemon.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the daemon has exited
	err  error         // Wait's result, valid after done is closed
}

// start runs the exim daemon in the foreground (-bdf) with the MTA's
// configuration and waits until it greets on Addr. The caller holds no lock.
func (m *MTA) start() error {
	// exim's output goes to a file rather than a pipe: the children it
	// forks inherit stdout and stderr, and a pipe they hold open would keep
	// cmd.Wait from returning.
	out, err := os.OpenFile(m.path("exim.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	// -oX repeats local_interfaces from the configuration; given on the
	// command line it also stops exim writing a pid file, which it would
	// otherwise remove at SIGTERM by forking a child that inherits the
	// listening sockets, keeping the ports open after the daemon is gone.
	listen := fmt.Sprintf("127.0.0.1.%d:127.0.0.1.%d", m.port, m.tlsPort)
	cmd := exec.Command(m.bin, "-C", m.path("exim.conf"), "-bdf", "-oX", listen)
	cmd.Dir = m.dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// A group of its own, so Stop reaches the connection children too.
		Setpgid: true,
		// If the test binary dies without cleaning up, take exim with it.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", m.bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
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
	started := []byte(fmt.Sprintf("daemon started: pid=%d,", p.cmd.Process.Pid))
	deadline := time.Now().Add(startTimeout)
	err := errors.New("daemon has not logged that it started")
	for {
		select {
		case <-p.done:
			return fmt.Errorf("exim exited: %v", p.err)
		default:
		}
		if log, _ := m.mainLog(); bytes.Contains(log, started) {
			if err = greet(m.Addr()); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %s: %w", startTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
	pid := p.cmd.Process.Pid
	signalGroup(pid, syscall.SIGTERM)
	deadline := time.Now().Add(stopTimeout)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		signalGroup(pid, syscall.SIGKILL)
		<-p.done
	}
	// Children outlive the daemon for a moment: connections finishing
	// after SIGTERM, deliveries.
	for groupRunning(pid) {
		if time.Now().After(deadline) {
			signalGroup(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// groupRunning reports whether a process of the process group pgid is still
// running. Zombies don't count: exited children of the daemon are reparented
// to init, which reaps them when it will. Without /proc it reports false.
func groupRunning(pgid int) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	want := strconv.Itoa(pgid)
	for _, name := range stats {
		data, err := os.ReadFile(name)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and ')'.
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) > 2 && f[0] != "Z" && f[0] != "X" && f[2] == want {
			return true
		}
	}
	return false
}

// signalGroup sends sig to the process group led by pid: exim's daemon and
// the children it forked for connections and deliveries.
func signalGroup(pid int, sig syscall.Signal) {
	_ = syscall.Kill(-pid, sig)
}
