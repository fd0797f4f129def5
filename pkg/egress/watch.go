package egress

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

// WatchInterval is how often an AllowWatch reads its file by default.
const WatchInterval = 250 * time.Millisecond

// AllowWatch keeps a Proxy's allowlist that of the file rules.AllowFile
// in Dir, the proxy's own directory, which outlives its container: Start
// takes it (or writes it), then Run reads it every Interval and puts each
// new list in force, through Proxy.SetAllow, with the grammar and the
// guard's rules of the list the proxy started with. After each list it
// takes, it writes that list to rules.AllowInForceFile, so that whoever
// changed the file can tell when the change is in force.
//
// Each change is one line on the proxy's Log: "bottle-egress: allowlist: 2 patterns:
// a.example, b.example" for a list taken, or why a file was not taken,
// which leaves the list in force as it was.
type AllowWatch struct {
	Dir      string
	Proxy    *Proxy
	Interval time.Duration // 0: WatchInterval

	seen    []byte // the content last acted on
	pending []byte // an incomplete content seen once, not acted on yet
	failing string // the reading error last logged
}

func (w *AllowWatch) file() string { return filepath.Join(w.Dir, rules.AllowFile) }

// Start puts the list in force when the proxy starts: the file's, if it is
// there, else env (the list the proxy was handed), which it writes there.
// A file that is there but does not parse puts nothing in force (the proxy
// allows nothing until it is fixed) rather than a list that may be wider
// than the one last in force. It fails only when it cannot read or write
// the directory.
func (w *AllowWatch) Start(env *Allowlist) error {
	content, err := os.ReadFile(w.file())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		content = rules.FormatAllowFile(env.Patterns())
		if err := writeAtomic(w.file(), content); err != nil {
			return fmt.Errorf("cannot write the allowlist: %w", err)
		}
		w.seen = content
		return w.take(env, false)
	case err != nil:
		return fmt.Errorf("cannot read the allowlist: %w", err)
	}
	w.seen = content
	patterns, err := rules.ParseAllowFile(content)
	if err != nil {
		w.logf("allowlist: %s: %v; allowing nothing until it is fixed", clean(w.file()), err)
		return w.take(&Allowlist{}, false)
	}
	a, _ := NewAllowlist(patterns) // ParseAllowFile has checked them
	w.logf("allowlist: %s, kept from before this start", clean(w.file()))
	return w.take(a, false)
}

// Run polls the file until ctx is done.
func (w *AllowWatch) Run(ctx context.Context) {
	interval := w.Interval
	if interval <= 0 {
		interval = WatchInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Poll()
		}
	}
}

// Poll reads the file once and acts on what has changed since the last
// time. A file that is not there, or cannot be read, changes nothing. A
// content without its final newline is taken for a file being written and
// waited for, once, before it is refused.
func (w *AllowWatch) Poll() {
	content, err := os.ReadFile(w.file())
	if err != nil {
		if msg := err.Error(); msg != w.failing && !errors.Is(err, fs.ErrNotExist) {
			w.failing = msg
			w.logf("allowlist: cannot read it: %v; keeping %s", err, w.Proxy.Allowlist())
		}
		return
	}
	w.failing = ""
	if bytes.Equal(content, w.seen) {
		w.pending = nil
		return
	}
	patterns, err := rules.ParseAllowFile(content)
	if errors.Is(err, rules.ErrIncomplete) && !bytes.Equal(content, w.pending) {
		w.pending = content
		return
	}
	w.pending, w.seen = nil, content
	if err != nil {
		w.logf("allowlist: %s: %v; keeping %s", clean(w.file()), err, w.Proxy.Allowlist())
		return
	}
	a, _ := NewAllowlist(patterns)
	if err := w.take(a, true); err != nil {
		w.logf("allowlist: %v", err)
	}
}

// take puts a in force, says so if it is a change, and writes the list in
// force.
func (w *AllowWatch) take(a *Allowlist, change bool) error {
	w.Proxy.SetAllow(a)
	if change {
		w.logf("allowlist: %s", a)
	}
	if err := writeAtomic(filepath.Join(w.Dir, rules.AllowInForceFile), rules.FormatAllowFile(a.Patterns())); err != nil {
		return fmt.Errorf("cannot write the list in force: %w", err)
	}
	return nil
}

func (w *AllowWatch) logf(format string, args ...any) {
	w.Proxy.logLine("bottle-egress: " + fmt.Sprintf(format, args...) + "\n")
}

// writeAtomic writes content to path through a file beside it renamed into
// place, readable by all, so that no reader sees half of it.
func writeAtomic(path string, content []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, nothing
	_, err = f.Write(content)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	return err
}
