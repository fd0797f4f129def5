package egress

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

func TestNewAllowlistError(t *testing.T) {
	_, err := NewAllowlist([]string{"ok.com", "https://x.com", "*"})
	if want := `"https://x.com" is a URL; give the host name alone`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestPatterns(t *testing.T) {
	a, err := NewAllowlist([]string{"API.example.com.", "*.Example.org:8443", "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"api.example.com", "*.example.org:8443", "10.0.0.1"}
	if got := a.Patterns(); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	var none *Allowlist
	if got := none.Patterns(); got != nil {
		t.Errorf("nil allowlist: got %q", got)
	}
}

func TestAllows(t *testing.T) {
	a, err := NewAllowlist([]string{
		"api.anthropic.com",
		"*.githubusercontent.com",
		"registry.npmjs.org:8443",
		"trailing.dot.",
		"10.1.2.3",
		"*.example.com",
		"*.both.com", "both.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		host string
		port int
		want bool
	}{
		{"api.anthropic.com", 443, true},
		{"API.Anthropic.COM", 443, true},
		{"api.anthropic.com.", 80, true},
		{"api.anthropic.com", 8080, false},
		{"api.anthropic.com", 0, false},
		{"anthropic.com", 443, false},
		{"x.api.anthropic.com", 443, false},
		{"api.anthropic.com..", 443, false},
		{"trailing.dot", 443, true},
		{"trailing.dot.", 443, true},

		{"registry.npmjs.org", 8443, true},
		{"registry.npmjs.org", 443, false},
		{"registry.npmjs.org", 80, false},

		{"raw.githubusercontent.com", 443, true},
		{"a.b.c.githubusercontent.com", 443, true},
		{"githubusercontent.com", 443, false},
		{"evilgithubusercontent.com", 443, false},
		{"githubusercontent.com.evil.org", 443, false},
		{"x.example.com", 443, true},
		{"evilexample.com", 443, false},
		{"example.com", 443, false},
		{".example.com", 443, false},
		{"a..example.com", 443, false},
		{"a_b.example.com", 443, false},
		{"a b.example.com", 443, false},
		{"both.com", 443, true},
		{"x.both.com", 443, true},

		{"10.1.2.3", 80, true},
		{"10.1.2.3", 8080, false},
		{"10.1.2.4", 80, false},
		{"010.1.2.3", 80, false},
		{"10.1.515", 80, false},
		{"::1", 443, false},
		{"[::1]", 443, false},
		{"[::1]:443", 443, false},
		{"::ffff:10.1.2.3", 80, false},
		{"", 443, false},
	}
	for _, c := range cases {
		if got := a.Allows(c.host, c.port); got != c.want {
			t.Errorf("Allows(%q, %d) = %v, want %v", c.host, c.port, got, c.want)
		}
	}

	empty, err := NewAllowlist(nil)
	if err != nil {
		t.Fatal(err)
	}
	var nilList *Allowlist
	for _, l := range []*Allowlist{empty, nilList} {
		if l.Allows("api.anthropic.com", 443) {
			t.Errorf("%v allows api.anthropic.com:443", l)
		}
	}
}

// TestMatch: the pattern that allowed a request says whether it is an IPv4
// address, which the proxy lets reach internal addresses, or a name, which
// it does not.
func TestMatch(t *testing.T) {
	a, err := NewAllowlist([]string{"10.1.2.3:8080", "10.1.2.3", "*.example.com:8080", "x.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		host    string
		port    int
		pattern string
		ip      string // "" for none
	}{
		{"10.1.2.3", 8080, "10.1.2.3:8080", "10.1.2.3"},
		{"10.1.2.3.", 443, "10.1.2.3", "10.1.2.3"},
		{"X.example.com", 8080, "*.example.com:8080", ""},
		{"x.example.com", 80, "x.example.com", ""},
	}
	for _, c := range cases {
		p, ok := a.match(c.host, c.port)
		ip := ""
		if p.IP.IsValid() {
			ip = p.IP.String()
		}
		if !ok || p.String() != c.pattern || ip != c.ip {
			t.Errorf("match(%q, %d) = %s (IP %q), %v; want %s (IP %q)", c.host, c.port, p, ip, ok, c.pattern, c.ip)
		}
	}
	if p, ok := a.match("10.1.2.4", 8080); ok {
		t.Errorf("match(10.1.2.4, 8080) = %s", p)
	}
}

func FuzzAllows(f *testing.F) {
	f.Add("api.anthropic.com", 443, "api.anthropic.com")
	f.Add("API.example.com.", 80, "*.example.com")
	f.Add("evilexample.com", 443, "*.example.com")
	f.Add("x.example.com", 8443, "*.example.com:8443")
	f.Add("1.2.3.4", 80, "1.2.3.4")
	f.Add("[::1]", 443, "localhost")
	f.Fuzz(func(t *testing.T, host string, port int, pattern string) {
		a, err := NewAllowlist([]string{pattern})
		if err != nil || !a.Allows(host, port) {
			return
		}
		parsed, _ := rules.ParsePattern(pattern)
		norm := parsed.String()
		pHost, pPort, hasPort := strings.Cut(norm, ":")
		h := strings.ToLower(strings.TrimSuffix(host, "."))
		suffix, wildcard := strings.CutPrefix(pHost, "*")
		if wildcard && !strings.HasSuffix(h, suffix) || !wildcard && h != pHost {
			t.Fatalf("%q allows host %q", norm, host)
		}
		if !hasPort && port != 80 && port != 443 || hasPort && pPort != strconv.Itoa(port) {
			t.Fatalf("%q allows port %d", norm, port)
		}
	})
}
