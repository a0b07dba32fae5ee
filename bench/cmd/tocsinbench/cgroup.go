package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// memCgroup is a memory cgroup tocsin runs in with -memory-limit, as a
// Pod's memory limit puts it: the kernel OOM-kills it past the limit, and
// tocsin's automemlimit sets GOMEMLIMIT from it at start, so the run shows
// whether a replica of that size carries the checks, and at what CPU. It
// needs write access to the cgroup tree (root, as on the project's VM).
type memCgroup struct {
	dir string
	v2  bool
}

// newMemCgroup makes a cgroup limited to limit bytes, without swap.
func newMemCgroup(limit int64) (*memCgroup, error) {
	name := fmt.Sprintf("tocsinbench-%d", os.Getpid())
	if c, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil && strings.Contains(string(c), "memory") {
		cg := &memCgroup{dir: filepath.Join("/sys/fs/cgroup", name), v2: true}
		return cg, cg.create(map[string]int64{"memory.max": limit, "memory.swap.max": 0})
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err != nil {
		return nil, errors.New("-memory-limit: no cgroup v2 memory controller and no cgroup v1 memory hierarchy at /sys/fs/cgroup/memory")
	}
	cg := &memCgroup{dir: filepath.Join("/sys/fs/cgroup/memory", name)}
	// memsw (memory + swap) exists only with swap accounting on; setting
	// it to the same limit keeps swap out of the measurement.
	files := map[string]int64{"memory.limit_in_bytes": limit}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil {
		files["memory.memsw.limit_in_bytes"] = limit
	}
	return cg, cg.create(files)
}

func (c *memCgroup) create(files map[string]int64) error {
	if err := os.Mkdir(c.dir, 0o755); err != nil {
		return fmt.Errorf("-memory-limit: make the cgroup: %w", err)
	}
	// The memory limit first: memsw may not be set below it.
	for _, f := range []string{"memory.limit_in_bytes", "memory.max", "memory.memsw.limit_in_bytes", "memory.swap.max"} {
		v, ok := files[f]
		if !ok {
			continue
		}
		if err := os.WriteFile(filepath.Join(c.dir, f), []byte(strconv.FormatInt(v, 10)), 0o644); err != nil {
			_ = os.Remove(c.dir)
			return fmt.Errorf("-memory-limit: set %s: %w", f, err)
		}
	}
	return nil
}

// wrap returns the command line that runs argv inside the cgroup: a shell
// moves itself in and execs argv, so that tocsin starts (and reads its
// limit) already inside.
func (c *memCgroup) wrap(argv []string) []string {
	return append([]string{"/bin/sh", "-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, c.dir}, argv...)
}

// oomKills counts the processes the kernel killed in the cgroup for want
// of memory.
func (c *memCgroup) oomKills() (int, error) {
	file := "memory.oom_control"
	if c.v2 {
		file = "memory.events"
	}
	data, err := os.ReadFile(filepath.Join(c.dir, file))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, nil // an older v1 kernel does not count them
}

// remove deletes the cgroup once nothing runs in it.
func (c *memCgroup) remove() error { return os.Remove(c.dir) }
