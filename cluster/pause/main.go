//go:build linux

// Command pause is the pod sandbox's process, the one the pod's namespaces
// belong to: it sleeps until told to stop, and reaps the zombies that the
// pod's containers leave when they share its PID namespace. cluster/up.sh
// builds it into the node's sandbox image, so that no image is pulled.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 4)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range c {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
