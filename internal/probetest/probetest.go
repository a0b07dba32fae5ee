// Package probetest holds what the tests of probe and of its rooms
// (probe/queue, probe/smtp, probe/probes) share: the goroutine-leak check,
// servers that misbehave, certificates made on the spot, a DNS server and
// checks on a probe's result.
//
// It does not import probe: probe's own tests (package probe) import it,
// and Go allows no cycle through a test. The checks on a result therefore
// read it through its JSON form (probe/probe.go), and Within takes the
// prober's Probe method.
package probetest

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// Main runs a package's tests and fails it if goroutines outlive them:
// every probe must leave nothing running behind it. A package's TestMain
// calls it.
func Main(m *testing.M) {
	baseline := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 && !fuzzing() {
		if err := waitGoroutines(baseline, 5*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// fuzzing reports whether this process runs go test -fuzz, as coordinator
// or worker: the fuzzing engine leaves goroutines of its own behind (the
// os/signal loop), which would fail the leak check.
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// waitGoroutines polls until at most n goroutines run, or reports the stacks
// of the survivors after timeout.
func waitGoroutines(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		got := runtime.NumGoroutine()
		if got <= n {
			return nil
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("goroutine leak: %d running, want at most %d\n%s", got, n, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
