package agentdef

import (
	"strings"
	"testing"
)

func TestValidNames(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		valid func(string) bool
		name  string
		in    string
		want  bool
	}{
		{validAgentName, "agent", "a", true},
		{validAgentName, "agent", "0-a-b1", true},
		{validAgentName, "agent", "0-a-", false},
		{validAgentName, "agent", "a--b", false},
		{validAgentName, "agent", "a-", false},
		{validAgentName, "agent", long(56), true},
		{validAgentName, "agent", long(57), false},
		{validAgentName, "agent", "-a", false},
		{validAgentName, "agent", "A", false},
		{validAgentName, "agent", "", false},
		{validSidecarName, "sidecar", "egress", true},
		{validSidecarName, "sidecar", long(32), true},
		{validSidecarName, "sidecar", long(33), false},
		{validSidecarName, "sidecar", "1a", false},
		{validSidecarName, "sidecar", "a_b", false},
		{validEnvName, "env", "_A1", true},
		{validEnvName, "env", "a" + long(1000), true},
		{validEnvName, "env", "1A", false},
		{validEnvName, "env", "A-B", false},
		{validEnvName, "env", "", false},
		{validUser, "user", "agent", true},
		{validUser, "user", "1000:1000", true},
		{validUser, "user", "_a.b-c:g", true},
		{validUser, "user", long(32) + ":" + long(32), true},
		{validUser, "user", long(33), false},
		{validUser, "user", "a:" + long(33), false},
		{validUser, "user", "a:", false},
		{validUser, "user", ":a", false},
		{validUser, "user", "a:b:c", false},
		{validUser, "user", ".a", false},
		{validUser, "user", "root; rm", false},
		{validUser, "user", "é", false},
	}
	for _, tt := range tests {
		if got := tt.valid(tt.in); got != tt.want {
			t.Errorf("%s name %q: valid = %v, want %v", tt.name, tt.in, got, tt.want)
		}
	}
}
