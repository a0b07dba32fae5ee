package testproc

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

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

// Descendants returns the pids of every live descendant of pid.
func Descendants(pid int) []int {
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

// Running reports whether a process of group pgrp, or one of pids, is still
// alive. Zombies don't count: orphans are reparented to init, which reaps
// them when it will.
func Running(pgrp int, pids []int) bool {
	for _, s := range procStats() {
		if !s.zombie && (s.pgrp == pgrp || slices.Contains(pids, s.pid)) {
			return true
		}
	}
	return false
}
