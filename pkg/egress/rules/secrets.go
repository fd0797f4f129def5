package rules

import (
	"encoding/json"
	"fmt"
)

// EnvSecrets hands bottle-egress the bottle's secrets: a JSON array of
// Secret. It is set on the egress sidecar only, never on the agent.
const EnvSecrets = "BOTTLE_EGRESS_SECRETS"

// EnvStateDir names the proxy's own directory, on a volume of the
// bottle's that outlives the proxy's container. With secrets, bottle-egress
// writes there, at start, the certificate of the authority it made for
// this bottle alone, as CAFile: the agent trusts it for the hosts of its
// secrets. The authority's private key never leaves the proxy's memory.
const EnvStateDir = "BOTTLE_EGRESS_STATE_DIR"

// CAFile is the PEM certificate bottle-egress writes into EnvStateDir.
const CAFile = "ca.pem"

// Secret is one secret as the proxy takes it: requests to its hosts have
// every Placeholder in their headers replaced with Value, which the agent
// never holds.
type Secret struct {
	Name        string   `json:"name"`        // the variable the agent sees Placeholder in
	Placeholder string   `json:"placeholder"` // random, this bottle's own
	Value       string   `json:"value"`
	Hosts       []string `json:"hosts"` // patterns of the allowlist's grammar
}

// EncodeSecrets is EnvSecrets' value for secrets.
func EncodeSecrets(secrets []Secret) string {
	b, _ := json.Marshal(secrets) // strings and slices of them always marshal
	return string(b)
}

// DecodeSecrets reads EnvSecrets' value; "" is none. Each secret needs a
// name, a placeholder, a value and hosts that parse.
func DecodeSecrets(s string) ([]Secret, error) {
	if s == "" {
		return nil, nil
	}
	var secrets []Secret
	if err := json.Unmarshal([]byte(s), &secrets); err != nil {
		return nil, fmt.Errorf("not a JSON array of secrets: %w", err)
	}
	for i, sec := range secrets {
		switch {
		case sec.Name == "" || sec.Placeholder == "" || sec.Value == "":
			return nil, fmt.Errorf("secret %d: a name, a placeholder and a value are required", i)
		case len(sec.Hosts) == 0:
			return nil, fmt.Errorf("secret %s: no hosts", sec.Name)
		}
		for _, h := range sec.Hosts {
			if _, err := ParsePattern(h); err != nil {
				return nil, fmt.Errorf("secret %s: %w", sec.Name, err)
			}
		}
	}
	return secrets, nil
}
