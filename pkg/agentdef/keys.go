package agentdef

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bottle-dev/bottle/pkg/agentdef/internal/strictjson"
)

// The keys each object of a definition takes, in the order a message lists them.
var (
	topKeys     = []string{"image", "pull", "command", "env", "workdir", "workspace", "sidecars", "egress", "secrets", "ports", "user", "read_only", "pids_limit", "cap_add", "memory", "cpus", "smolmachines"}
	sidecarKeys = []string{"name", "image", "command", "env", "cap_add", "pids_limit", "memory", "cpus"}
	egressKeys  = []string{"allow"}
	smolKeys    = []string{"image"}
	secretKeys  = []string{"from_env", "from_file", "hosts"}
)

// fields walks obj in file order, rejecting keys not in known and skipping nulls,
// which stand for an absent optional key (a missing required key is the caller's to report).
func (l *loader) fields(obj *strictjson.Object, at string, known []string, set func(key, at string, v any) error) error {
	for i, key := range obj.Keys {
		keyAt := strictjson.Member(at, key)
		if !slices.Contains(known, key) {
			return l.fail(keyAt, unknownKey(key, known))
		}
		if obj.Values[i] == nil {
			continue
		}
		if err := set(key, keyAt, obj.Values[i]); err != nil {
			return err
		}
	}
	return nil
}

// unknownKey suggests the known key nearest to key, when one is near
// enough to be a typo, or else lists them all.
func unknownKey(key string, known []string) string {
	best, bestDistance := "", 3
	for _, k := range known {
		if d := editDistance(key, k); d < bestDistance {
			best, bestDistance = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key; did you mean %q?", best)
	}
	return "unknown key; the keys here are " + strings.Join(known, ", ")
}

// editDistance is the Levenshtein distance, computed over runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := range ra {
		cur := make([]int, len(rb)+1)
		cur[0] = i + 1
		for j := range rb {
			cost := 1
			if ra[i] == rb[j] {
				cost = 0
			}
			cur[j+1] = min(prev[j+1]+1, cur[j]+1, prev[j]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}
