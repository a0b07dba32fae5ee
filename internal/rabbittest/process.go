package rabbittest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one run of a daemon the broker needs: rabbitmq-server, epmd or
// an amqp-consume consumer.
type process struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	err     error         // Wait's result, valid after done is closed
	outFile string
}

// run starts bin in a process group of its own, with its output appended to
// outFile: a file rather than a pipe, because children that inherit stdout
// would keep a pipe, and so cmd.Wait, open after the daemon is gone.
func run(outFile string, env []string, bin string, args ...string) (*process, error) {
	out, err := os.OpenFile(outFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(outFile)
	cmd.Env = env
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// A group of its own, so that stop reaches the shell script's
		// children (erl, beam.smp, sleep) too.
		Setpgid: true,
		// If the test binary dies without cleaning up, take the direct
		// child with it.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), outFile: outFile}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop kills the process, its process group and every descendant, and
// waits until all of them are gone. Erlang's port programs (erl_child_setup,
// inet_gethost) call setsid and so leave the group; they are found through
// /proc by parent pid before anything is killed. SIGKILL, not SIGTERM: a
// graceful RabbitMQ shutdown takes seconds, and tests stop brokers to see
// them gone.
func (p *process) stop() {
	pid := p.cmd.Process.Pid
	pids := append(descendants(pid), pid)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for _, d := range pids {
		_ = syscall.Kill(d, syscall.SIGKILL)
	}
	<-p.done
	deadline := time.Now().Add(stopTimeout)
	for running(pid, pids) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// output returns the last lines of the process' output, for failure messages.
func (p *process) output() string { return tail(p.outFile, 30) }

// procStat is the part of /proc/<pid>/stat tests need.
type procStat struct {
	pid, ppid, pgrp int
	zombie          bool
}

// procStats reads every process' stat line; nil without /proc.
func procStats() []procStat {
	names, _ := filepath.Glob("/proc/[0-9]*/stat")
	stats := make([]procStat, 0, len(names))
	for _, name := range names {
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
		if len(f) < 3 {
			continue
		}
		dir := filepath.Dir(name)
		pid, _ := strconv.Atoi(filepath.Base(dir))
		ppid, _ := strconv.Atoi(f[1])
		pgrp, _ := strconv.Atoi(f[2])
		zombie := f[0] == "Z" || f[0] == "X"
		if zombie {
			// A multi-threaded process' leader turns zombie before its
			// other threads have exited and closed its sockets.
			tasks, _ := filepath.Glob(filepath.Join(dir, "task", "[0-9]*"))
			zombie = len(tasks) <= 1
		}
		stats = append(stats, procStat{pid: pid, ppid: ppid, pgrp: pgrp, zombie: zombie})
	}
	return stats
}

// descendants returns the pids of every live descendant of pid.
func descendants(pid int) []int {
	stats := procStats()
	found := []int{pid}
	for i := 0; i < len(found); i++ {
		for _, s := range stats {
			if s.ppid == found[i] && !s.zombie && !slices.Contains(found, s.pid) {
				found = append(found, s.pid)
			}
		}
	}
	return found[1:]
}

// running reports whether a process of group pgrp, or one of pids, is still
// alive. Zombies don't count: orphans are reparented to init, which reaps
// them when it will.
func running(pgrp int, pids []int) bool {
	for _, s := range procStats() {
		if !s.zombie && (s.pgrp == pgrp || slices.Contains(pids, s.pid)) {
			return true
		}
	}
	return false
}

// tail returns the last n lines of the file at path, or a note why not.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no %s: %v)", filepath.Base(path), err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
