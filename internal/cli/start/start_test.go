package start

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/bottle-dev/bottle/pkg/agentdef"
)

func TestPublishFlags(t *testing.T) {
	t.Parallel()
	got, err := publishFlags([]string{"3000", "0.0.0.0:8080:80", "127.0.0.1::4000"})
	want := []agentdef.Publish{{IP: "127.0.0.1", Port: 3000}, {IP: "0.0.0.0", HostPort: 8080, Port: 80}, {IP: "127.0.0.1", Port: 4000}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("publishFlags = %+v, %v; want %+v", got, err, want)
	}
}

// TestPublishUsage: a bad --publish is one line and status 2, before any
// backend is asked.
func TestPublishUsage(t *testing.T) {
	t.Setenv("BOTTLE_AGENT_PATH", t.TempDir())
	for _, tc := range []struct{ arg, want string }{
		{"70000", `bottle-start: --publish "70000": port 70000 is out of range (1-65535)` + "\n"},
		{"1.2.3:80:3000", `bottle-start: --publish "1.2.3:80:3000": "1.2.3" is not an IP address` + "\n"},
		{"3000/udp", `bottle-start: --publish "3000/udp": only TCP ports can be published, not "udp"` + "\n"},
	} {
		var stdout, stderr bytes.Buffer
		code := Run([]string{"--publish", tc.arg, "x"}, strings.NewReader(""), &stdout, &stderr)
		if code != 2 || stderr.String() != tc.want || stdout.Len() != 0 {
			t.Errorf("--publish %s: %d, %q; want 2, %q", tc.arg, code, stderr.String(), tc.want)
		}
	}
}
