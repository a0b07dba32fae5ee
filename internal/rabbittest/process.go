package rabbittest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tocsin/tocsin/internal/testproc"
)

// process is one run of a daemon the broker needs: rabbitmq-server, epmd or
// an amqp-consume consumer.
type process struct {
	*testproc.Process
	outFile string
}

// run starts bin in a process group of its own, with its output appended to
// outFile.
func run(outFile string, env []string, bin string, args ...string) (*process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(outFile)
	cmd.Env = env
	p, err := testproc.StartInGroup(cmd, outFile)
	if err != nil {
		return nil, err
	}
	return &process{Process: p, outFile: outFile}, nil
}

// stop kills the process, its process group and every descendant, and
// waits until all of them are gone. Erlang's port programs (erl_child_setup,
// inet_gethost) call setsid and so leave the group; they are found through
// /proc by parent pid before anything is killed. SIGKILL, not SIGTERM: a
// graceful RabbitMQ shutdown takes seconds, and tests stop brokers to see
// them gone.
func (p *process) stop() {
	pid := p.Cmd.Process.Pid
	pids := append(testproc.Descendants(pid), pid)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for _, d := range pids {
		_ = syscall.Kill(d, syscall.SIGKILL)
	}
	<-p.Done()
	deadline := time.Now().Add(stopTimeout)
	for testproc.Running(pid, pids) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// output returns the last lines of the process' output, for failure messages.
func (p *process) output() string { return tail(p.outFile, 30) }

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
