package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from <linux/prctl.h>,
// which package syscall does not name.
const prSetChildSubreaper = 36

// runCommand is `bottle-tether run`: it starts CMD and waits for it to end,
// or for the client to be gone, and then ends CMD's whole tree.
func runCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("run", flag.ContinueOnError)
	flags.SetOutput(io.Discard) // one line of our own on stderr instead
	within := flags.Duration("within", 10*time.Second, "")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			io.WriteString(stdout, usage)
			return 0
		}
		return fail(stderr, "run: %v", err)
	}
	if *within <= 0 {
		return fail(stderr, "run: -within must be positive, not %v", *within)
	}
	rest := flags.Args()
	if len(rest) < 3 || rest[1] != "--" {
		return fail(stderr, "usage: bottle-tether run [-within DURATION] TOKEN -- CMD [ARG...]")
	}
	token, argv := rest[0], rest[2:]
	if err := checkToken(token); err != nil {
		return fail(stderr, "run: %v", err)
	}

	// Set up before CMD starts, so that no signal finds the defaults.
	clientGone := make(chan os.Signal, 1)
	signal.Notify(clientGone, syscall.SIGHUP, syscall.SIGTERM)
	// The terminal sends these to its whole foreground process group, CMD's
	// business and not the tether's. They are handled, not ignored, because
	// CMD would inherit an ignored disposition; nobody reads the channel,
	// and Notify drops what does not fit in it.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTSTP)
	childEnded := make(chan os.Signal, 1)
	signal.Notify(childEnded, syscall.SIGCHLD)

	name := socketName(token)
	ln, err := net.Listen("unix", name)
	if errors.Is(err, syscall.EADDRINUSE) {
		// Some other process would decide how long CMD lives.
		return fail(stderr, "run: %s is taken by another process; not starting %s", name, argv[0])
	}
	if err != nil {
		return fail(stderr, "run: %v", err)
	}
	unheld := awaitHold(ln.(*net.UnixListener), *within)

	// Orphans among CMD's descendants (double forks, setsid daemons) are
	// re-parented to the tether rather than to the container's init, so
	// that they stay in the tree it walks to end them.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return fail(stderr, "run: cannot become a subreaper: %v", errno)
	}

	// In the tether's own process group, so that on a terminal CMD is in
	// the foreground group, and job control and Ctrl-C work as usual.
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "bottle-tether: run: %v\n", err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return exitNotFound
		}
		return exitCannotRun
	}
	// Not cmd.Wait: the orphans are the tether's children too, and its
	// wait4(-1) for them would steal CMD's status from cmd.Wait.
	for {
		select {
		case <-childEnded:
			if status, ended := reapChildren()[cmd.Process.Pid]; ended {
				// Leftovers go on, as they would after docker exec.
				return exitStatus(status)
			}
			continue
		case <-unheld:
		case <-clientGone:
		}
		endDescendants()
		return exitClientGone
	}
}

// awaitHold accepts the one hold connection on ln, if it comes within
// within, and returns a channel closed when the client is gone: when no
// hold came in time (or accepting failed: without a hold nothing tells the
// tether that the client is still there) or when the hold connection ends.
// The listener is closed once the hold is in; the connection stays open
// until the tether exits, which is what ends the hold when CMD ends first.
func awaitHold(ln *net.UnixListener, within time.Duration) <-chan struct{} {
	unheld := make(chan struct{})
	ln.SetDeadline(time.Now().Add(within))
	go func() {
		defer close(unheld)
		conn, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		io.Copy(io.Discard, conn) // the hold sends nothing: this reads until it is gone
	}()
	return unheld
}

// exitStatus is the exit status a shell would give for a process that
// ended with status.
func exitStatus(status syscall.WaitStatus) int {
	if status.Signaled() {
		return 128 + int(status.Signal())
	}
	return status.ExitStatus()
}
