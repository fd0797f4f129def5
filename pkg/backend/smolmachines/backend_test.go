package smolmachines

import (
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		out    string
		tooOld bool
	}{
		{"smolvm 1.9.3\n", false},
		{"smolvm 1.9.2\n", false},
		{"smolvm 1.8.0\n", false},
		{"smolvm 1.8.1+a5df5001\n", false},
		{"smolvm 2.0.0-beta.1\n", false},
		{"smolvm 1.8.0-rc.1\n", true},
		{"smolvm 1.7.6\n", true},
		{"smolvm 1.1.3\n", true},
		{"smolvm 0.5.0 (stand-in)\n", true},
	} {
		v, err := parseVersion([]byte(tc.out))
		if err != nil || v.before(minVersion) != tc.tooOld {
			t.Errorf("parseVersion(%q) = %v, %v; too old: %v, want %v", tc.out, v, err, v.before(minVersion), tc.tooOld)
		}
	}
	for _, out := range []string{"", "1.9.3", "smolvm", "smolvm 1.9", "smolvm v1.9.3", "smolvm 1.x.3", "smolvm 1.9.3.4", "smolvm -1.9.3"} {
		if v, err := parseVersion([]byte(out)); err == nil || !strings.HasSuffix(err.Error(), `, not "smolvm X.Y.Z"`) {
			t.Errorf("parseVersion(%q) = %v, %v; want an error", out, v, err)
		}
	}
}
