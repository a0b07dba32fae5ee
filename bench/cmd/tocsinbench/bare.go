package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tocsin/tocsin/schedule"
)

// bareArgs is what the bare loop subprocess is given.
type bareArgs struct {
	Base     string        // http://host:port
	N        int           // checks
	Interval time.Duration // each check's interval
	Timeout  time.Duration
	Runs     int // runs per check
}

// bareResult is what it reports on stdout.
type bareResult struct {
	Probes   int64   `json:"probes"`
	Errors   int64   `json:"errors"`
	Seconds  float64 `json:"seconds"`
	LagP99Ms float64 `json:"lag_p99_ms"`
}

// maxHeaderBytes is probe.maxHeaderBytes: the response header limit of
// tocsin's HTTP prober.
const maxHeaderBytes = 1 << 20

// maxBody is probe.DefaultMaxBodyBytes: how much of a body tocsin reads.
const maxBody = 1 << 20

// bareMain runs the bare loop: each check's URL once per interval at the
// same offset tocsin's scheduler gives it, each request as tocsin's HTTP
// prober sends it (probe/http.go: a transport of its own per request,
// keep-alive off, no proxy, the check's timeout as the deadline, the
// User-Agent header, the body read up to 1 MiB), and nothing else: no
// judging, no metrics, no store.
func bareMain(a bareArgs) error {
	type due struct {
		at  time.Duration
		idx int
	}
	plan := make([]due, 0, a.N*a.Runs)
	for i := range a.N {
		off := schedule.Spread(checkName(i), a.Interval)
		for k := range a.Runs {
			plan = append(plan, due{at: off + time.Duration(k)*a.Interval, idx: i})
		}
	}
	slices.SortFunc(plan, func(x, y due) int { return int(x.at - y.at) })
	var probes, errs atomic.Int64
	var wg sync.WaitGroup
	lags := make([]float64, 0, len(plan))
	start := time.Now()
	for _, d := range plan {
		if w := time.Until(start.Add(d.at)); w > 0 {
			time.Sleep(w)
		}
		lags = append(lags, float64(time.Since(start.Add(d.at)))/1e6)
		url := a.Base + "/b/" + strconv.Itoa(d.idx)
		wg.Go(func() {
			if err := bareProbe(url, a.Timeout); err != nil {
				errs.Add(1)
				return
			}
			probes.Add(1)
		})
	}
	wg.Wait()
	r := bareResult{Probes: probes.Load(), Errors: errs.Load(), Seconds: time.Since(start).Seconds(),
		LagP99Ms: quantile(lags, 0.99)}
	return json.NewEncoder(os.Stdout).Encode(r)
}

func bareProbe(url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	dialer := &net.Dialer{}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "tocsin/bench")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1)); err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// bareRun is one run of the bare loop as a subprocess, so that its CPU
// time is its own.
type bareRun struct {
	res     bareResult
	cpu     float64 // user+system seconds of the subprocess
	peakKiB int64
}

func runBare(ctx context.Context, self string, a bareArgs) (bareRun, error) {
	limit := time.Duration(a.Runs)*a.Interval + a.Timeout + 30*time.Second
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "-bare",
		"-bare-base", a.Base, "-bare-n", strconv.Itoa(a.N),
		"-interval", a.Interval.String(), "-timeout", a.Timeout.String(),
		"-bare-runs", strconv.Itoa(a.Runs))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		return bareRun{}, fmt.Errorf("bare loop: %w", err)
	}
	var r bareRun
	if err := json.Unmarshal(out, &r.res); err != nil {
		return bareRun{}, fmt.Errorf("bare loop output %q: %w", out, err)
	}
	r.cpu = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.peakKiB = ru.Maxrss
	}
	return r, nil
}
