package agentdef

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/go-units"

	"github.com/bottle-dev/bottle/pkg/agentdef/internal/strictjson"
)

// SafeCapabilities are the only capabilities cap_add may give back, to the
// agent or a sidecar, sorted. None of them reaches past the container: they
// are Docker's default set without NET_RAW (raw packets: ARP and address
// spoofing on the bottle's network), MKNOD (device nodes) and SETFCAP (file
// capabilities on workspace files, which take effect when the host runs
// them). Every other capability (SYS_ADMIN, SYS_PTRACE, NET_ADMIN,
// DAC_READ_SEARCH, BPF, ...) is refused when the definition is loaded.
var SafeCapabilities = []string{
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
	"NET_BIND_SERVICE", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

const (
	minPids   = 16
	maxPids   = 1 << 22
	minMemory = 6 << 20 // the least docker run --memory takes
	maxMemory = 1 << 40
	minCPUs   = 0.01 // the finest docker run --cpus goes
	maxCPUs   = 64
)

func (l *loader) pidsLimit(at string, v any) (int, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, l.wrongType(at, "a whole number", v)
	}
	limit, err := strconv.Atoi(n.String())
	if err != nil || limit < minPids || limit > maxPids {
		return 0, l.fail(at, fmt.Sprintf("%s must be a whole number from %d to %d", n, minPids, maxPids))
	}
	return limit, nil
}

// capabilities reads cap_add: Linux capability names, with or without the
// CAP_ prefix, given back one by one to a process that starts with none.
func (l *loader) capabilities(at string, v any) ([]string, error) {
	list, err := l.stringList(at, v)
	if err != nil {
		return nil, err
	}
	for i, c := range list {
		name := strings.TrimPrefix(strings.ToUpper(c), "CAP_")
		if !slices.Contains(SafeCapabilities, name) {
			return nil, l.fail(strictjson.Index(at, i), fmt.Sprintf("%q is not allowed: a bottle may be given back only %s, which cannot break out of a container",
				c, strings.Join(SafeCapabilities, ", ")))
		}
		list[i] = name
	}
	return list, nil
}

// memory reads an amount of memory as docker run --memory takes it: "512m", "1.5g".
func (l *loader) memory(at string, v any) (int64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, l.wrongType(at, `a string such as "512m" or "4g"`, v)
	}
	n, err := units.RAMInBytes(s)
	switch {
	case err != nil:
		return 0, l.fail(at, fmt.Sprintf(`%q is not an amount of memory such as "512m", "1.5g" or "4g"`, s))
	case n < 0 || n > maxMemory: // a float too large for an int64 comes out negative
		return 0, l.fail(at, fmt.Sprintf("%q is more than 1t, the most a bottle may have", s))
	case n < minMemory:
		return 0, l.fail(at, fmt.Sprintf("%q is less than 6m, the least docker allows", s))
	}
	return n, nil
}

// cpus reads CPUs' worth of time as docker run --cpus takes it: 2, 0.5.
func (l *loader) cpus(at string, v any) (float64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, l.wrongType(at, "a number such as 2 or 0.5", v)
	}
	cpus, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || cpus < minCPUs || cpus > maxCPUs {
		return 0, l.fail(at, fmt.Sprintf("%s must be a number of CPUs from %g to %d", n, minCPUs, maxCPUs))
	}
	return cpus, nil
}

// egressSidecarName is the sidecar that the backends hand the allowlist to
// and make the agent's way out.
const egressSidecarName = "egress"

// egressSidecar keeps the egress allowlist where the user reads it: the
// proxy's arguments (-allow) and its BOTTLE_EGRESS_ variables would widen
// it out of sight of egress.allow.
func (l *loader) egressSidecar(at string, s Sidecar) error {
	if s.Name != egressSidecarName {
		return nil
	}
	const use = "the egress sidecar's allowlist comes from egress.allow alone: list the hosts there"
	if len(s.Command) > 0 {
		return l.fail(at+".command", "must be left out, "+use)
	}
	for _, key := range slices.Sorted(maps.Keys(s.Env)) {
		if strings.HasPrefix(strings.ToUpper(key), "BOTTLE_EGRESS_") {
			return l.fail(strictjson.Member(at+".env", key), "must not be set, "+use)
		}
	}
	return nil
}
