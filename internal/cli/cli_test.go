package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/backend"
)

func TestExit(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		stderr string
	}{
		{nil, 0, ""},
		{errHelp, 0, ""},
		{errors.New("boom"), 1, "prog: boom\n"},
		{Usagef("bad %s", "flag"), 2, "prog: bad flag\n"},
		{fmt.Errorf("wrapped: %w", &backend.UnknownError{Name: "x", Valid: []string{"docker", "smolmachines"}}), 2, "prog: wrapped: unknown backend \"x\": valid backends are docker, smolmachines\n"},
		{&agentdef.Error{File: "a.json", Key: "image", Reason: "required"}, 2, "prog: a.json: image: required\n"},
		{Quietly(StatusFailure), 1, ""},
		{&InterruptedError{Signal: syscall.SIGINT}, 130, "prog: interrupted by interrupt\n"},
		{errors.Join(&InterruptedError{Signal: syscall.SIGTERM}), 143, "prog: interrupted by terminated\n"},
	} {
		var stderr bytes.Buffer
		if got := Exit("prog", &stderr, tc.err); got != tc.status || stderr.String() != tc.stderr {
			t.Errorf("Exit(%v) = %d, %q; want %d, %q", tc.err, got, stderr.String(), tc.status, tc.stderr)
		}
	}
}

func TestInterruptible(t *testing.T) {
	ctx, finish := Interruptible(context.Background())
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not cancel the context")
	}
	var interrupted *InterruptedError
	if err := finish(); !errors.As(err, &interrupted) || interrupted.Signal != syscall.SIGTERM {
		t.Fatalf("finish() = %v, want SIGTERM", err)
	}

	ctx, finish = Interruptible(context.Background())
	if err := finish(); err != nil {
		t.Fatalf("finish() without a signal = %v", err)
	}
	if ctx.Err() == nil {
		t.Fatal("the context outlives finish")
	}
}

func TestLabelScopeCheck(t *testing.T) {
	for labels, want := range map[string]string{
		"":                  "",
		"a=1,":              "",
		"team/x=y":          "",
		"=x":                `label key "": use letters, digits, '.', '_', '/' and '-'`,
		"dev.bottle.slug=x": `label key "dev.bottle.slug": the dev.bottle. prefix is the toolkit's own`,
		"k=a\tb":            `label k: the value must not hold control characters or backslashes`,
	} {
		m := map[string]string{}
		for _, kv := range bytes.Split([]byte(labels), []byte(",")) {
			k, v, _ := bytes.Cut(kv, []byte("="))
			m[string(k)] = string(v)
		}
		got := ""
		if err := (&LabelScope{Labels: m}).check(); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("check(%q) = %q, want %q", labels, got, want)
		}
	}
}

func TestRun(t *testing.T) {
	type options struct {
		LabelScope
		JSON bool `long:"json"`
	}
	for _, tc := range []struct {
		c      Command
		args   []string
		status int
		stderr string
	}{
		{Command{Name: "prog"}, []string{"--json", "a", "b"}, 0, ""},
		{Command{Name: "prog"}, []string{"--nope"}, 2, "prog: unknown flag `nope' (see prog --help)\n"},
		{Command{Name: "prog"}, []string{"--label", "dev.bottle.slug=x"}, 2, "prog: label key \"dev.bottle.slug\": the dev.bottle. prefix is the toolkit's own\n"},
		{Command{Name: "prog"}, []string{"fail"}, 1, "prog: failed\n"},
		{Command{Name: "prog", FailureStatus: 125}, []string{"--nope"}, 125, "prog: unknown flag `nope' (see prog --help)\n"},
		{Command{Name: "prog", FailureStatus: 125}, []string{"fail"}, 125, "prog: failed\n"},
		{Command{Name: "prog", FailureStatus: 125}, []string{"--version"}, 0, ""},
	} {
		var stdout, stderr bytes.Buffer
		var opts options
		var operands []string
		status := tc.c.Run(&opts, tc.args, &stdout, &stderr, func(rest []string) error {
			if operands = rest; slices.Contains(rest, "fail") {
				return errors.New("failed")
			}
			return nil
		})
		if status != tc.status || stderr.String() != tc.stderr {
			t.Errorf("Run(%q) = %d, %q; want %d, %q", tc.args, status, stderr.String(), tc.status, tc.stderr)
		}
		if tc.status == 0 && tc.args[0] == "--json" && !slices.Equal(operands, []string{"a", "b"}) {
			t.Errorf("Run(%q) ran with the operands %q", tc.args, operands)
		}
	}
}
