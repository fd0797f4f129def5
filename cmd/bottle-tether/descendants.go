package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// grace is how long the tether's descendants have to end after SIGHUP
	// and SIGTERM before it sends SIGKILL.
	grace = 2 * time.Second
	// pollInterval is how often the tether looks again for descendants
	// while it ends them.
	pollInterval = 20 * time.Millisecond
)

// endDescendants ends every process descended from the tether: SIGHUP,
// SIGTERM and SIGCONT (for those that are stopped) to each as it is found,
// then, after the grace period, SIGKILL to all that are left, until none is.
// The tree is walked again each time, as processes may fork meanwhile. A
// process that cannot be signalled (another user's) is not waited for.
func endDescendants() {
	self := os.Getpid()
	killFrom := time.Now().Add(grace)
	asked := map[int]bool{}
	for {
		left := 0
		for _, pid := range liveDescendants(self) {
			switch {
			case time.Now().After(killFrom):
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					left++
				}
			case !asked[pid]:
				asked[pid] = true
				syscall.Kill(pid, syscall.SIGHUP)
				syscall.Kill(pid, syscall.SIGTERM)
				syscall.Kill(pid, syscall.SIGCONT)
				left++
			default:
				left++
			}
		}
		reapChildren()
		if left == 0 {
			return
		}
		time.Sleep(pollInterval)
	}
}

// reapChildren reaps the tether's children that have ended, orphans
// re-parented to it among them, and returns their statuses by pid.
func reapChildren() map[int]syscall.WaitStatus {
	reaped := map[int]syscall.WaitStatus{}
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err != nil || pid <= 0 {
			return reaped
		}
		reaped[pid] = status
	}
}

// liveDescendants lists the processes below root that have not ended, from
// the parent pids in /proc/PID/stat. Zombies are not listed but walked
// through: an orphan read just before its parent ended still names that
// parent.
func liveDescendants(root int) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	zombie := map[int]bool{}
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + entry.Name() + "/stat")
		if err != nil {
			continue // ended since the directory was read
		}
		state, ppid, ok := parseStat(stat)
		if !ok {
			continue
		}
		children[ppid] = append(children[ppid], pid)
		zombie[pid] = state == "Z"
	}
	var live []int
	for queue := children[root]; len(queue) > 0; queue = queue[1:] {
		pid := queue[0]
		if !zombie[pid] {
			live = append(live, pid)
		}
		queue = append(queue, children[pid]...)
	}
	return live
}

// parseStat returns the state and the parent pid from the text of a
// /proc/PID/stat file: "PID (COMM) STATE PPID ...", where COMM may hold
// spaces and parentheses.
func parseStat(stat []byte) (state string, ppid int, ok bool) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return "", 0, false
	}
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 2 {
		return "", 0, false
	}
	ppid, err := strconv.Atoi(fields[1])
	return fields[0], ppid, err == nil
}
