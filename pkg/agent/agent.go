// Package agent describes a running agent the same way on every backend,
// and reads and writes the one line that every bottle binary prints and
// accepts: backend TAB slug TAB agent TAB services.
package agent

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Agent is one running agent: the agent environment of a bottle together
// with the sidecar services that guard it.
type Agent struct {
	Backend   string
	Slug      string
	Name      string   // the definition it was started from
	Services  []string // sidecar names, in the order of the definition
	StartedAt time.Time
	State     string // the backend's own word: running, created, exited, stopped, ...
	// Exit is the exit status of the agent's program once it has ended,
	// where the backend knows it; nil while it runs or when unknown.
	Exit *int
	// Ports are the agent's published ports, by the agent's port, each
	// with the host address that leads to it; nil when it publishes none.
	Ports []Port
	// Branch is the agent's own copy of a git repository, when it was
	// started on a branch of its own; nil otherwise.
	Branch *Branch

	// Handle is what the backend that listed the agent needs to act on it
	// without looking it up again, such as its containers; only that
	// backend reads it, and no line carries it.
	Handle any
}

// ValidSlug reports whether s can be a slug on any backend: 1 to 63 of
// a-z and 0-9 in groups joined by single '-' (smolvm refuses a trailing or
// doubled '-'; Docker allows both).
func ValidSlug(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// CheckSlug explains why s cannot be a slug, or returns nil.
func CheckSlug(s string) error {
	if ValidSlug(s) {
		return nil
	}
	return fmt.Errorf("invalid slug %s: a slug is 1 to 63 of a-z and 0-9 in groups joined by single '-' (no leading, trailing or doubled '-')", Escape(s))
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

// Branch is an agent's own copy of the user's git repository, on a branch
// that is fetched back into that repository as the agent's work.
type Branch struct {
	Name string // the branch, in the copy and in the user's repository: bottle/SLUG unless the user named it
	Repo string // the top directory of the user's repository
	Copy string // the directory bottle keeps the copy in, on the host
}

// Port is one published port of an agent: the port the agent listens on
// inside its bottle, and the address on the host that leads to it.
type Port struct {
	Port int    // the agent's own port, 1-65535
	Host string // HOST:PORT on the host, such as 127.0.0.1:49213; "" while the backend has not bound it
}
