//go:build !linux

package smolmachines

import "os/exec"

// dieWithCaller runs cmd. Only Linux can have a child killed when its
// parent dies: elsewhere a smolvm client whose caller was killed with
// SIGKILL runs on, and its command with it, until it ends.
func dieWithCaller(cmd *exec.Cmd) error { return cmd.Run() }
