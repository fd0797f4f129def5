// Package agent describes a running agent the same way on every backend,
// and reads and writes the one line that every bottle binary prints and
// accepts: backend TAB slug TAB agent TAB services.
package agent

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bottle-dev/bottle/internal/lazyre"
)

// Agent is one running agent: the agent environment of a bottle together
// with the sidecar services that guard it.
type Agent struct {
	Backend   string
	Slug      string
	Name      string   // the definition it was started from
	Services  []string // sidecar names, in the order of the definition
	StartedAt time.Time
	State     string // the backend's own word: running, created, stopped, ...
}

// Query selects the agents a listing returns.
type Query struct {
	Labels map[string]string // only agents carrying every one of these
	All    bool              // stopped (and half-made) agents too, not only running ones
}

// JoinServices and SplitServices turn services into the one label value
// that every backend stores them in, and back.
func JoinServices(services []string) string { return strings.Join(services, ",") }

// SplitServices is JoinServices undone.
func SplitServices(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// ErrNotFound is what a backend returns when no agent of its has the slug.
var ErrNotFound = errors.New("no such agent")

// ErrUnusable is what a backend wraps when its tools are not there at all,
// found out while doing something else than probing.
var ErrUnusable = errors.New("not usable here")

// ErrNoAnswer is what a backend wraps when something is there (a socket, a
// program) but does not answer in time: a fault worth reporting, unlike a
// backend that is simply not installed.
var ErrNoAnswer = errors.New("no answer")

// ErrSlugTaken is what a backend's Start wraps when the slug, or a name
// made from it, is already in use there: a generated slug can then be
// drawn again.
var ErrSlugTaken = errors.New("already in use")

var slugPattern = lazyre.New(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidSlug reports whether s can be a slug on any backend.
func ValidSlug(s string) bool { return slugPattern().MatchString(s) }

// CheckSlug explains why s cannot be a slug, or returns nil.
func CheckSlug(s string) error {
	if ValidSlug(s) {
		return nil
	}
	return fmt.Errorf("invalid slug %s: a slug is 1 to 63 of a-z, 0-9 and '-', not starting with '-'", Escape(s))
}

// NewSlug makes a slug for a new agent of the named definition: the name and
// six random hex digits, so that concurrent starts do not collide.
func NewSlug(name string) string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return name + "-" + hex.EncodeToString(b[:])
}
