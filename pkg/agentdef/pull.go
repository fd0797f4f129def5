package agentdef

import (
	"fmt"
	"slices"
	"strings"
)

// Pull says when a backend fetches a bottle's images from their
// registries: the definition's "pull" key, or bottle-start --pull, which
// wins over it.
type Pull string

// The ways to pull, as docker run --pull spells them.
const (
	PullMissing Pull = "missing" // an image the backend lacks (the default)
	PullAlways  Pull = "always"  // every image at every start, so that a moved tag is followed
	PullNever   Pull = "never"   // none: an image the backend lacks is an error
)

// Pulls are the ways to pull, in the order a message lists them.
var Pulls = []Pull{PullMissing, PullAlways, PullNever}

// ParsePull reads a way to pull.
func ParsePull(s string) (Pull, error) {
	if p := Pull(s); slices.Contains(Pulls, p) {
		return p, nil
	}
	names := make([]string, len(Pulls))
	for i, p := range Pulls {
		names[i] = string(p)
	}
	return "", fmt.Errorf("%q is not a way to pull: use %s", s, strings.Join(names, ", "))
}

func (l *loader) pull(at string, v any) (Pull, error) {
	s, err := l.stringValue(at, v)
	if err != nil {
		return "", err
	}
	p, err := ParsePull(s)
	if err != nil {
		return "", l.fail(at, err.Error())
	}
	return p, nil
}
