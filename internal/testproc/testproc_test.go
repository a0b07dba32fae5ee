package testproc

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestProcessLifecycle(t *testing.T) {
	t.Parallel()
	p, err := Start(exec.Command("sleep", "30"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Exited() {
		t.Fatal("sleep exited at once")
	}
	calls := 0
	if err := p.WaitReady(time.Second, time.Millisecond, func() error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil || calls != 3 {
		t.Errorf("WaitReady = %v after %d calls", err, calls)
	}
	p.Stop(syscall.SIGTERM, 5*time.Second)
	if !p.Exited() || p.Err() == nil {
		t.Errorf("after Stop: exited %v, err %v", p.Exited(), p.Err())
	}

	gone, err := Start(exec.Command("true"))
	if err != nil {
		t.Fatal(err)
	}
	err = gone.WaitReady(5*time.Second, 10*time.Millisecond, func() error { return errors.New("never") })
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("WaitReady on an exited process = %v", err)
	}
	if _, err := Start(exec.Command("/nonexistent/daemon")); err == nil {
		t.Error("Start of a missing binary succeeded")
	}
}

func TestOnFreePorts(t *testing.T) {
	t.Parallel()
	lost := errors.New("address already in use")
	tries := 0
	err := OnFreePorts(3, 2, func(ports []int) error {
		if len(ports) != 2 || ports[0] == ports[1] {
			t.Errorf("ports %v", ports)
		}
		if tries++; tries < 3 {
			return lost
		}
		return nil
	}, nil)
	if err != nil || tries != 3 {
		t.Errorf("OnFreePorts = %v after %d tries, want success on the third", err, tries)
	}
	tries = 0
	err = OnFreePorts(3, 1, func([]int) error { tries++; return errors.New("bad config") },
		func(err error) bool { return errors.Is(err, lost) })
	if err == nil || tries != 1 {
		t.Errorf("a failure that would repeat was tried %d times (%v)", tries, err)
	}
}
