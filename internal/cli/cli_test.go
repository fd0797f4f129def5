package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
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

func TestCheckLabels(t *testing.T) {
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
		if err := CheckLabels(m); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("CheckLabels(%q) = %q, want %q", labels, got, want)
		}
	}
}
