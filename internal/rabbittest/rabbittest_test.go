package rabbittest_test

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/rabbittest"
)

// TestRabbitBroker runs one broker through its whole life: it is the expensive
// part, so the checks share it.
func TestRabbitBroker(t *testing.T) {
	var (
		b     *rabbittest.Broker
		ports []int
	)
	t.Run("life", func(t *testing.T) {
		b = rabbittest.Start(t)
		ports = b.Ports()
		checkLoopbackOnly(t, ports)

		const q = "jobs"
		b.DeclareQueue(t, q)
		b.Publish(t, q, 5)
		b.WaitQueue(t, rabbittest.DefaultVhost, q, 10*time.Second, func(q rabbittest.Queue) bool {
			return q.Messages == 5 && q.Ready == 5 && q.Consumers == 0
		})
		stop := b.StartConsumer(t, q, 2)
		b.WaitQueue(t, rabbittest.DefaultVhost, q, 10*time.Second, func(q rabbittest.Queue) bool {
			return q.Messages == 5 && q.Ready == 3 && q.Unacked == 2 && q.Consumers == 1
		})
		stop()
		b.WaitQueue(t, rabbittest.DefaultVhost, q, 10*time.Second, func(q rabbittest.Queue) bool {
			return q.Ready == 5 && q.Unacked == 0 && q.Consumers == 0
		})

		b.AddVhost(t, "mail/eu")
		b.DeclareQueueIn(t, "mail/eu", "out box")
		b.PublishIn(t, "mail/eu", "out box", 2, time.Now())
		b.WaitQueue(t, "mail/eu", "out box", 10*time.Second, func(q rabbittest.Queue) bool { return q.Messages == 2 })

		b.Stop()
		if _, err := http.Get(b.MgmtURL() + "/api/overview"); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("management API after Stop: err = %v, want connection refused", err)
		}
		b.Restart(t)
		// Durable queues survive; the messages may not (SIGKILL).
		b.QueueInfo(t, rabbittest.DefaultVhost, q)
	})
	if t.Failed() || b == nil {
		return
	}
	// The subtest's cleanup has killed everything.
	for _, p := range ports {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d still accepts connections after the test", p)
		}
	}
	if pids := processesMentioning(b.Node()); len(pids) > 0 {
		t.Errorf("processes of node %s still running after the test: %v", b.Node(), pids)
	}
}

// processesMentioning lists the pids of live processes whose environment
// holds s.
func processesMentioning(s string) []string {
	var pids []string
	envs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, name := range envs {
		data, err := os.ReadFile(name)
		if err != nil || !strings.Contains(string(data), s) {
			continue
		}
		pid := filepath.Base(filepath.Dir(name))
		if stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat")); err == nil {
			if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i+1:]), " Z") {
				continue // a zombie waiting for init
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// checkLoopbackOnly fails unless every listening socket on ports is bound
// to a loopback address, from /proc/net/tcp and tcp6.
func checkLoopbackOnly(t *testing.T, ports []int) {
	t.Helper()
	want := map[int]bool{}
	for _, p := range ports {
		want[p] = true
	}
	seen := map[int]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			t.Fatalf("read listening sockets: %v", err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st ...; addresses are hex ip:port.
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // LISTEN
				continue
			}
			ip, portHex, _ := strings.Cut(fields[1], ":")
			port, err := strconv.ParseInt(portHex, 16, 32)
			if err != nil || !want[int(port)] {
				continue
			}
			seen[int(port)] = true
			switch ip {
			case "0100007F", "00000000000000000000000001000000": // 127.0.0.1, ::1
			default:
				t.Errorf("port %d listens on %s (hex), not loopback", port, ip)
			}
		}
		f.Close()
	}
	for _, p := range ports {
		if !seen[p] {
			t.Errorf("nothing listens on port %d", p)
		}
	}
}
