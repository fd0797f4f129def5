package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bottle-dev/bottle/internal/version"
)

// TestUsage: bad usage is one line on stderr and status 125, before
// anything is started; -h and --version answer on stdout.
func TestUsage(t *testing.T) {
	token := strings.Repeat("0f", 16)
	for _, args := range [][]string{
		nil,
		{"frob"},
		{"run"},
		{"run", token},
		{"run", token, "--"},
		{"run", token, "true"},
		{"run", token, "-x", "true"},
		{"run", "0F" + token[2:], "--", "true"},
		{"run", token[1:], "--", "true"},
		{"run", token + "0", "--", "true"},
		{"run", "g" + token[1:], "--", "true"},
		{"run", "-within", "soon", token, "--", "true"},
		{"run", "-within=0s", token, "--", "true"},
		{"run", "-bogus", token, "--", "true"},
		{"hold"},
		{"hold", token, token},
		{"hold", "-bogus", token},
		{"hold", "nope"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(args, strings.NewReader(""), &stdout, &stderr)
		if code != 125 || stdout.Len() > 0 || !regexp.MustCompile(`^bottle-tether: [^\n]+\n$`).MatchString(stderr.String()) {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want 125 and one line on stderr", args, code, stdout.String(), stderr.String())
		}
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"run", "-h"}, {"hold", "--help"}} {
		var stdout, stderr bytes.Buffer
		code := run(args, strings.NewReader(""), &stdout, &stderr)
		if code != 0 || stdout.String() != usage || stderr.Len() > 0 {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want 0 and the usage on stdout", args, code, stdout.String(), stderr.String())
		}
	}
	for _, arg := range []string{"--version", "-version"} {
		var stdout, stderr bytes.Buffer
		code := run([]string{arg}, strings.NewReader(""), &stdout, &stderr)
		if want := "bottle-tether " + version.String() + "\n"; code != 0 || stdout.String() != want || stderr.Len() > 0 {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want 0, stdout %q", arg, code, stdout.String(), stderr.String(), want)
		}
	}
}

// TestHoldGivesUp: a hold with no run to reach says so and exits 125.
func TestHoldGivesUp(t *testing.T) {
	defer func(patience time.Duration) { dialPatience = patience }(dialPatience)
	dialPatience = 200 * time.Millisecond
	var stderr bytes.Buffer
	stdin, stdinWriter := net.Pipe() // a client that stays
	defer stdinWriter.Close()
	code := run([]string{"hold", newToken(t)}, stdin, &bytes.Buffer{}, &stderr)
	if code != 125 || !regexp.MustCompile(`^bottle-tether: hold: no run for this TOKEN after 200ms: .+\n$`).MatchString(stderr.String()) {
		t.Errorf("hold with no run = %d, stderr %q; want 125 and a line saying so", code, stderr.String())
	}
}

// TestHoldWithoutClient: a hold whose client is gone before any run is
// reached (the command ended at once, taking its listener) ends at once,
// with status 0, not after its patience.
func TestHoldWithoutClient(t *testing.T) {
	defer func(patience time.Duration) { dialPatience = patience }(dialPatience)
	dialPatience = time.Hour
	var stderr bytes.Buffer
	if code := run([]string{"hold", newToken(t)}, strings.NewReader(""), &bytes.Buffer{}, &stderr); code != 0 || stderr.Len() != 0 {
		t.Errorf("hold with no client and no run = %d, stderr %q; want 0 and nothing", code, stderr.String())
	}
}

// TestHoldEnds: a hold that came before its run listens connects once it
// does, and ends, with status 0, when its stdin ends (the client is gone:
// run reads EOF) or when run closes the connection.
func TestHoldEnds(t *testing.T) {
	for _, end := range []string{"stdin", "run"} {
		t.Run(end, func(t *testing.T) {
			token := newToken(t)
			stdin, stdinWriter := net.Pipe()
			defer stdinWriter.Close()
			code := make(chan int, 1)
			go func() { code <- run([]string{"hold", token}, stdin, &bytes.Buffer{}, &bytes.Buffer{}) }()

			ln, err := net.Listen("unix", socketName(token))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			conn, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if end == "stdin" {
				stdinWriter.Close()
			} else {
				conn.Close()
			}
			select {
			case c := <-code:
				if c != 0 {
					t.Errorf("hold = %d after its %s ended; want 0", c, end)
				}
			case <-time.After(patience):
				t.Fatalf("hold still holding %v after its %s ended", patience, end)
			}
			if end == "stdin" {
				conn.SetReadDeadline(time.Now().Add(patience))
				if n, err := conn.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("run side read %d, %v; want EOF", n, err)
				}
			}
		})
	}
}
