package smolmachines

import (
	"os/exec"
	"runtime"
	"syscall"
)

// dieWithCaller runs cmd, a smolvm client, so that it is killed when the
// process that runs it dies, however that dies (SIGKILL included): Linux
// sends the parent-death signal when the thread that started the child
// ends, so the goroutine keeps its thread until the child has exited.
func dieWithCaller(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cmd.Run()
}
