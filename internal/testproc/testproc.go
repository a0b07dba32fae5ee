// Package testproc runs the real daemons the tests start — redis-server,
// exim, RabbitMQ, Prometheus, Alertmanager: it finds the binary, runs it
// with its exit watched, waits until it is ready, stops it (and its process
// group), and tries again on other ports when another process won the race
// for one. PromServer does all of that for the daemons of the Prometheus
// family, which share their flags and their GET /-/ready.
package testproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/testport"
)

// Find returns name's path on $PATH, or fallback where packages put it off
// $PATH; it fails t with install, how to get it, when there is neither.
// Tests that need a daemon fail, never skip: a skipped test hides a missing
// dependency.
func Find(t testing.TB, name, fallback, install string) string {
	t.Helper()
	if bin, err := exec.LookPath(name); err == nil {
		return bin
	}
	if fallback != "" {
		if _, err := os.Stat(fallback); err == nil {
			return fallback
		}
	}
	t.Fatalf("%s is not installed (not on $PATH, not at %s); %s", name, fallback, install)
	return ""
}

// Process is one run of a daemon.
type Process struct {
	Cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done is closed
}

// Start starts cmd and watches for its exit.
func Start(cmd *exec.Cmd) (*Process, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", cmd.Path, err)
	}
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the process exited; valid once Done is closed.
func (p *Process) Err() error { return p.err }

// ExitError is why the process exited, for a message: Err, or an error
// saying it exited with status 0 (Err is nil then).
func (p *Process) ExitError() error {
	if p.err != nil {
		return p.err
	}
	return errors.New("exit status 0")
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends sig and waits for the process to exit, killing it after
// timeout.
func (p *Process) Stop(sig syscall.Signal, timeout time.Duration) {
	_ = p.Cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// WaitReady calls ready every poll until it returns nil, the process exits
// or timeout has passed.
func (p *Process) WaitReady(timeout, poll time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %w", p.Cmd.Path, p.ExitError())
		default:
		}
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %s: %w", timeout, err)
		}
		time.Sleep(poll)
	}
}

// OnFreePorts calls start with n free loopback ports, up to attempts times:
// another process may take a port between testport's check and the
// daemon's bind, so a failed start is tried again on other ports while
// retry says the error may be that. It returns every attempt's error.
func OnFreePorts(attempts, n int, start func(ports []int) error, retry func(error) bool) error {
	var errs []error
	for range attempts {
		ports, err := testport.Free(n)
		if err != nil {
			return fmt.Errorf("pick ports: %w", err)
		}
		err = start(ports)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
		if retry != nil && !retry(err) {
			break
		}
	}
	return errors.Join(errs...)
}

// StartInGroup starts cmd as the leader of a process group of its own, so
// that a stop reaches the children a daemon forks, and killed if the test
// binary dies first. Its output is appended to outFile: a file rather than
// a pipe, because children that inherit stdout would keep a pipe, and so
// cmd.Wait, open after the daemon is gone.
func StartInGroup(cmd *exec.Cmd, outFile string) (*Process, error) {
	out, err := os.OpenFile(outFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return Start(cmd)
}
