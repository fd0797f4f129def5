package main

import (
	"fmt"
	"io"
	"strings"
	"syscall"

	"github.com/bottle-dev/bottle/internal/version"
)

const usage = `usage: bottle-tether run [-within DURATION] TOKEN -- CMD [ARG...]
       bottle-tether hold TOKEN
       bottle-tether forward AGENT_HOST PORT...
       bottle-tether --version

run starts CMD and, when the hold for TOKEN (32 lowercase hex digits) ends
or has not connected within DURATION (10s), or on SIGHUP or SIGTERM, ends
CMD and every process it started and exits 129. Otherwise it exits with
CMD's status (128+N when a signal N ended it).
hold connects to the run for TOKEN, retrying for 10s, and keeps the
connection until its stdin ends or run exits; then it exits 0.
forward listens on each PORT (TCP, all of its addresses) and relays every
connection to the same PORT of AGENT_HOST, and nowhere else, until SIGTERM.
Failures of bottle-tether itself, bad usage among them, are 125; 127 when
CMD is not found, 126 when it cannot be run.
`

// The exit statuses of bottle-tether's own making. 125 to 127 are docker
// exec's, so that bottle-attach reports them as it would without a tether.
const (
	exitFailure    = 125
	exitCannotRun  = 126
	exitNotFound   = 127
	exitClientGone = 128 + int(syscall.SIGHUP) // as if the hangup had ended CMD
)

// run runs bottle-tether with args (without the program name). run's CMD
// gets stdin, stdout and stderr as they are; hold reads stdin. Usage and the
// version go to stdout, messages to stderr. It returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return fail(stderr, "missing command: run, hold or forward (see bottle-tether -h)")
	}
	switch args[0] {
	case "run":
		return runCommand(args[1:], stdin, stdout, stderr)
	case "hold":
		return hold(args[1:], stdin, stdout, stderr)
	case "forward":
		return forward(args[1:], stderr)
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "-version", "--version":
		fmt.Fprintln(stdout, "bottle-tether", version.String())
		return 0
	}
	return fail(stderr, "unknown command %q: want run, hold or forward (see bottle-tether -h)", args[0])
}

// fail prints a message line and returns the status for bottle-tether's own
// failures.
func fail(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "bottle-tether: "+format+"\n", a...)
	return exitFailure
}

// checkToken checks that token has the form the client makes: 128 random
// bits, so that a tether and its hold find each other and nothing else.
func checkToken(token string) error {
	if len(token) != 32 || strings.Trim(token, "0123456789abcdef") != "" {
		return fmt.Errorf("TOKEN must be 32 lowercase hex digits, not %q", token)
	}
	return nil
}

// socketName is the abstract unix socket on which the run for token waits
// for its hold: abstract, so that it needs no writable directory and
// vanishes with the process.
func socketName(token string) string { return "@bottle-tether-" + token }
