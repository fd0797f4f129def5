package main

import (
	"errors"
	"flag"
	"io"
	"net"
	"time"
)

// dialPatience is how long hold tries to reach its run: the client starts
// both execs at once, and the hold may come first.
var dialPatience = 10 * time.Second

// hold is `bottle-tether hold`: it connects to the run for TOKEN and keeps
// the connection until stdin, the client's connection to this exec, ends,
// or until run closes the connection by exiting.
func hold(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("hold", flag.ContinueOnError)
	flags.SetOutput(io.Discard) // one line of our own on stderr instead
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			io.WriteString(stdout, usage)
			return 0
		}
		return fail(stderr, "hold: %v", err)
	}
	if flags.NArg() != 1 {
		return fail(stderr, "usage: bottle-tether hold TOKEN")
	}
	token := flags.Arg(0)
	if err := checkToken(token); err != nil {
		return fail(stderr, "hold: %v", err)
	}
	// The client may be gone, or done, before the run is reached: a
	// command that ends at once takes its listener with it.
	ended := make(chan struct{}, 2)
	go func() {
		io.Copy(io.Discard, stdin)
		ended <- struct{}{}
	}()
	conn, err := dialRun(socketName(token), ended)
	if errors.Is(err, errClientGone) {
		return 0
	}
	if err != nil {
		return fail(stderr, "hold: no run for this TOKEN after %v: %v", dialPatience, err)
	}
	defer conn.Close()
	go func() {
		io.Copy(io.Discard, conn) // run sends nothing: this reads until it exits
		ended <- struct{}{}
	}()
	<-ended
	return 0
}

// errClientGone is dialRun's answer when the client went before the run
// was reached.
var errClientGone = errors.New("the client is gone")

// dialRun connects to the run listening on name, trying again every 20ms
// for dialPatience, unless clientGone says there is no one to hold for.
func dialRun(name string, clientGone <-chan struct{}) (net.Conn, error) {
	giveUp := time.Now().Add(dialPatience)
	for {
		conn, err := net.Dial("unix", name)
		if err == nil || time.Now().After(giveUp) {
			return conn, err
		}
		select {
		case <-clientGone:
			return nil, errClientGone
		case <-time.After(20 * time.Millisecond):
		}
	}
}
