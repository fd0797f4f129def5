package attach

import (
	"errors"
	"io"
	"sync/atomic"

	"github.com/moby/term"
)

// detachWatch is the user's keyboard during a joined session: it passes
// every key on to the session but the detach sequence, which ends it, so
// that the session is left without the program ever seeing the keys.
type detachWatch struct {
	r   io.Reader
	hit atomic.Bool
}

// watchDetachKeys watches in for keys, which the caller has checked.
func watchDetachKeys(in io.Reader, keys string) *detachWatch {
	seq, _ := term.ToBytes(keys)
	return &detachWatch{r: term.NewEscapeProxy(in, seq)}
}

func (d *detachWatch) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if errors.As(err, new(term.EscapeError)) {
		d.hit.Store(true)
		err = io.EOF
	}
	return n, err
}

// seen reports whether the user typed the detach keys.
func (d *detachWatch) seen() bool { return d != nil && d.hit.Load() }
