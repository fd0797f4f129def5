package port

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bottle-dev/bottle/pkg/agent"
)

func TestAddresses(t *testing.T) {
	t.Parallel()
	a := agent.Agent{Backend: "docker", Slug: "web-1", Ports: []agent.Port{{Port: 3000, Host: "127.0.0.1:49213"}, {Port: 8080, Host: "0.0.0.0:8080"}}}
	for _, tc := range []struct {
		a          agent.Agent
		port       int
		out, fails string
	}{
		{a, 3000, "127.0.0.1:49213\n", ""},
		{a, 0, "3000 -> 127.0.0.1:49213\n8080 -> 0.0.0.0:8080\n", ""},
		{a, 4000, "", "docker web-1 does not publish port 4000; it publishes 3000, 8080"},
		{agent.Agent{Backend: "docker", Slug: "web-2"}, 4000, "", "docker web-2 does not publish port 4000; it publishes no ports"},
		{agent.Agent{Backend: "docker", Slug: "web-2"}, 0, "", "docker web-2 publishes no ports (publish them at start: bottle-start --publish PORT)"},
	} {
		out, err := addresses(tc.a, tc.port)
		fails := ""
		if err != nil {
			fails = err.Error()
		}
		if out != tc.out || fails != tc.fails {
			t.Errorf("addresses(%s, %d) = %q, %q; want %q, %q", tc.a.Slug, tc.port, out, fails, tc.out, tc.fails)
		}
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"web-1", "70000"}, "bottle-port: PORT \"70000\": not a port (1-65535)\n"},
		{[]string{"web-1", "x"}, "bottle-port: PORT \"x\": not a port (1-65535)\n"},
		{[]string{"web-1", "1", "2"}, "bottle-port: name one agent and at most one of its ports (see bottle-port --help)\n"},
		{[]string{"Web_1"}, "bottle-port: invalid slug Web_1: a slug is 1 to 63 of a-z and 0-9 in groups joined by single '-' (no leading, trailing or doubled '-')\n"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Run(tc.args, strings.NewReader(""), &stdout, &stderr); code != 2 || stderr.String() != tc.want {
			t.Errorf("bottle-port %q = %d, %q; want 2, %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}
