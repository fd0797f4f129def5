// Command bottle-tether ties a command that bottle-attach runs in an
// agent's container to the client that asked for it. Docker does not end an
// exec's process when its client goes away (a closed terminal, a SIGKILL),
// and with a TTY nothing inside notices at all; but a non-TTY exec with stdin
// attached reads EOF when its client is gone. So the client runs two execs:
// `bottle-tether run TOKEN -- CMD...`, the user's command, and
// `bottle-tether hold TOKEN`, which reads that stdin and holds a connection
// to run's abstract unix socket @bottle-tether-TOKEN. When the hold ends, or
// never comes, run ends CMD and everything it started, orphans included,
// since run is their subreaper. It links nothing but the standard library,
// so it builds static and runs from the read-only /.bottle mount in any
// agent image, as whatever user the agent is.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
