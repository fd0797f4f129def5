package logs

import (
	"strings"
	"testing"
)

func TestDeniedDestination(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{"deny CONNECT registry.npmjs.org:443 from 172.18.0.3", "registry.npmjs.org:443"},
		{"deny GET denied.test:80 from 172.18.0.3", "denied.test:80"},
		{"deny GET inside.test:80 from 172.18.0.3 (resolves to 172.18.0.5, a private address)", "inside.test:80"},
		{"deny CONNECT 10.0.0.5:22 from 172.18.0.3 (10.0.0.5 is a private address)", "10.0.0.5:22"},
		{"deny connect 203.0.113.9:443 at 2026-11-28T05:31:09Z", "203.0.113.9:443"},
		{"deny connect 203.0.113.9:443", "203.0.113.9:443"},
		{"deny resolve pypi.org at 2026-11-28T05:31:07Z", "pypi.org"},
		{"deny resolve pypi.org", "pypi.org"},

		// Not refusals, or not of a destination a pattern is about.
		{"allow CONNECT a.example:443 from 172.18.0.3", ""},
		{"bottle-egress: listening on [::]:3128, allowing 1 pattern: a.example", ""},
		{"bottle-egress: allowlist: 1 pattern: a.example", ""},
		{"swap TOKEN for CONNECT a.example:443 from 172.18.0.3", ""},
		{"deny sendto 203.0.113.7:123 at 2026-11-28T05:40:12Z", ""},
		{"", ""},
		{"deny", ""},
		{"deny CONNECT", ""},
		{"deny CONNECT a.example:443", ""},
		{" deny CONNECT a.example:443 from 1.2.3.4", ""},
		{"deny  CONNECT a.example:443 from 1.2.3.4", ""},
		{"deny resolve pypi.org trailing words", ""},
		{"deny resolve pypi.org:443 at 2026-11-28T05:31:07Z", ""},
		{"deny connect pypi.org at 2026-11-28T05:31:07Z", ""},
		// What an agent can ask for, as the proxy escapes it.
		{`deny CONNECT "evil.example\x1b[2J:443" from 1.2.3.4`, ""},
		{`deny CONNECT "a.example:443\nallow" from 1.2.3.4`, ""},
		{`deny resolve "a b" at 2026-11-28T05:31:07Z`, ""},
		{"deny CONNECT *.com:443 from 1.2.3.4", ""},
		{"deny CONNECT *.example:443 from 1.2.3.4", ""},
		{"deny CONNECT [::1]:443 from 1.2.3.4", ""},
		{"deny CONNECT a_b.example:443 from 1.2.3.4", ""},
		{"deny CONNECT https://a.example:443 from 1.2.3.4", ""},
		{"deny CONNECT a.example:99999 from 1.2.3.4", ""},
		{"deny CONNECT a.example:0443 from 1.2.3.4", ""},
		{"deny CONNECT A.example:443 from 1.2.3.4", "a.example:443"},
		{"deny CONNECT a.example.:443 from 1.2.3.4", ""},
		{"deny get a.example:443 from 1.2.3.4", ""},
		{"deny \"GET\" a.example:443 from 1.2.3.4", ""},
		{"deny CONNECT a.example:443 from", ""},
		{"deny resolve *.pypi.org", ""},
	} {
		got, ok := deniedDestination(c.line)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("deniedDestination(%q) = %q, %v; want %q", c.line, got, ok, c.want)
		}
	}
}

func TestDeniedWriter(t *testing.T) {
	log := "bottle-egress: listening on [::]:3128, allowing nothing\n" +
		"deny CONNECT b.example:443 from 172.18.0.3\n" +
		"deny GET a.example:80 from 172.18.0.3\n" +
		"allow CONNECT c.example:443 from 172.18.0.3\n" +
		"deny CONNECT b.example:443 from 172.18.0.3\n" +
		"deny CONNECT \"x\\x00\":443 from 172.18.0.3\n" +
		"deny CONNECT " + strings.Repeat("x", 100000) + ".example:443 from 172.18.0.3\n" +
		"deny connect 203.0.113.9:443 at 2026-11-28T05:31:09Z\r\n" +
		"deny resolve pypi.org"
	for _, c := range []struct {
		follow bool
		want   string
	}{
		{false, "a.example:80\nb.example:443\n203.0.113.9:443\npypi.org\n"},
		{true, "b.example:443\na.example:80\n203.0.113.9:443\npypi.org\n"},
	} {
		var out strings.Builder
		w := &deniedWriter{out: &out, follow: c.follow}
		// Written in pieces that cut lines anywhere.
		for i := 0; i < len(log); i += 7 {
			w.Write([]byte(log[i:min(i+7, len(log))]))
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if out.String() != c.want {
			t.Errorf("follow %v: got %q, want %q", c.follow, out.String(), c.want)
		}
	}
}
