package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/internal/testproc"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// 100 on every Linux the project runs on.
const clockTicks = 100

// procSample is one reading of a process's /proc files.
type procSample struct {
	at     time.Time
	cpu    float64 // user+system seconds since start
	rssKiB int64
	hwmKiB int64 // peak RSS so far (VmHWM)
	// Redis traffic through the counting proxy, and commands by INFO.
	redisBursts int64
	redisCmds   int64
}

// readProc reads CPU time and RSS of pid.
func readProc(pid int) (cpu float64, rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	// Fields after the command name, which is in parentheses and may
	// contain spaces: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, 0, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, 0, 0, errors.New("short stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	cpu = float64(ut+st) / clockTicks
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss = kib(v)
		} else if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			hwm = kib(v)
		}
	}
	return cpu, rss, hwm, nil
}

func kib(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
	return n
}

// redisServer is a throwaway redis-server on a random loopback port,
// nothing on disk, as internal/redistest starts it for the tests.
type redisServer struct {
	proc *testproc.Process
	addr string
	dir  string
}

func findRedis() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	if _, err := os.Stat(redistest.Binary); err == nil {
		return redistest.Binary, nil
	}
	return "", errors.New("redis-server not found (Debian/Ubuntu: apt-get install -y redis-server)")
}

func startRedis(dir string) (*redisServer, error) {
	bin, err := findRedis()
	if err != nil {
		return nil, err
	}
	r := &redisServer{dir: dir}
	err = testproc.OnFreePorts(5, 1, func(ports []int) error {
		r.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
		cmd := exec.Command(bin, "--port", strconv.Itoa(ports[0]), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--loglevel", "warning")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		p, err := testproc.Start(cmd)
		if err != nil {
			return err
		}
		c := redis.NewClient(&redis.Options{Addr: r.addr, DialTimeout: 200 * time.Millisecond,
			ReadTimeout: 200 * time.Millisecond, MaxRetries: -1, DisableIdentity: true})
		defer c.Close()
		err = p.WaitReady(10*time.Second, 20*time.Millisecond, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			info, err := c.Info(ctx, "server").Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "process_id:"+strconv.Itoa(cmd.Process.Pid)+"\r") {
				return errors.New("port answered by another redis-server")
			}
			return nil
		})
		if err != nil {
			p.Stop(syscall.SIGKILL, 5*time.Second)
			return err
		}
		r.proc = p
		return nil
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	return r, nil
}

func (r *redisServer) stop() {
	if r != nil && r.proc != nil {
		r.proc.Stop(syscall.SIGTERM, 10*time.Second)
	}
}

// commands returns the commands Redis processed so far, from INFO
// commandstats, without INFO itself and connection set-up (HELLO, CLIENT):
// what tocsin asked for, not the harness's readings.
func commands(ctx context.Context, c *redis.Client) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, err
	}
	stats, err := redistest.ParseCommandStats(info)
	if err != nil {
		return 0, err
	}
	var n int64
	for name, calls := range stats {
		if name == "info" || name == "hello" || strings.HasPrefix(name, "client") {
			continue
		}
		n += calls
	}
	return n, nil
}

// countingProxy forwards TCP between tocsin and Redis and counts the
// request bursts (reads from tocsin's side): one per round trip, since a
// client writes a command or a pipeline at once and then waits.
type countingProxy struct {
	ln       net.Listener
	upstream string
	bursts   atomic.Int64
	bytes    atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]bool
}

func startProxy(upstream string) (*countingProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{ln: ln, upstream: upstream, conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	return p, nil
}

func (p *countingProxy) addr() string { return p.ln.Addr().String() }

func (p *countingProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", p.upstream, 2*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		p.wg.Go(func() {
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					p.bursts.Add(1)
					p.bytes.Add(int64(n))
					if _, werr := up.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			_ = up.Close()
			_ = c.Close()
		})
		p.wg.Go(func() {
			_, _ = io.Copy(c, up)
			_ = c.Close()
			_ = up.Close()
		})
	}
}

func (p *countingProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
