// Package tty is the user's terminal for a session inside an agent: which
// terminal it is, raw mode that is undone on every way out, and the window
// size as it changes. The command layer owns it; a backend only gets its
// streams and sizes.
package tty

import (
	"context"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/term"
)

// Size is a terminal's size in character cells.
type Size struct{ Width, Height uint }

// Terminal is the terminal an interactive session runs on.
type Terminal struct {
	in, out *os.File
	opened  *os.File // /dev/tty, when this package opened it

	once  sync.Once
	state *term.State
}

// Open finds the terminal for an interactive session: stdin and stdout when
// stdin is a terminal; else the controlling terminal, /dev/tty, for both, as
// fzf does when its input is a pipe. It returns nil when there is none.
func Open(stdin io.Reader, stdout io.Writer) *Terminal {
	if in, ok := stdin.(*os.File); ok && term.IsTerminal(int(in.Fd())) {
		if out, ok := stdout.(*os.File); ok {
			return &Terminal{in: in, out: out}
		}
	}
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	if !term.IsTerminal(int(f.Fd())) {
		f.Close()
		return nil
	}
	return &Terminal{in: f, out: f, opened: f}
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Reader is the user's keyboard.
func (t *Terminal) Reader() io.Reader { return t.in }

// Writer is the user's screen.
func (t *Terminal) Writer() io.Writer { return t.out }

// Size returns the window size, or 80x24 when it cannot be read.
func (t *Terminal) Size() Size {
	for _, f := range []*os.File{t.out, t.in} {
		if w, h, err := term.GetSize(int(f.Fd())); err == nil && w > 0 && h > 0 {
			return Size{Width: uint(w), Height: uint(h)}
		}
	}
	return Size{Width: 80, Height: 24}
}

// MakeRaw hands every key, Ctrl-C included, to the session. Restore undoes it.
func (t *Terminal) MakeRaw() error {
	state, err := term.MakeRaw(int(t.in.Fd()))
	if err != nil {
		return err
	}
	t.state = state
	return nil
}

// Restore puts the terminal back as MakeRaw found it; only the first call
// acts, so every way out may call it.
func (t *Terminal) Restore() {
	t.once.Do(func() {
		if t.state != nil {
			term.Restore(int(t.in.Fd()), t.state)
		}
	})
}

// Close restores the terminal and closes it if Open opened it.
func (t *Terminal) Close() error {
	t.Restore()
	if t.opened != nil {
		return t.opened.Close()
	}
	return nil
}

// WatchResize calls resize with the new size on every SIGWINCH until ctx
// is done.
func (t *Terminal) WatchResize(ctx context.Context, resize func(Size)) {
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		defer signal.Stop(winch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-winch:
				resize(t.Size())
			}
		}
	}()
}
