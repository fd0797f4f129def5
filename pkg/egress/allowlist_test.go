package egress

import (
	"strconv"
	"strings"
	"testing"
	"unicode"
)

func TestParsePattern(t *testing.T) {
	good := []struct{ in, want string }{
		{"api.anthropic.com", "api.anthropic.com"},
		{"API.Anthropic.COM.", "api.anthropic.com"},
		{"localhost", "localhost"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"a-1.b2.c", "a-1.b2.c"},
		{"*.githubusercontent.com", "*.githubusercontent.com"},
		{"*.Example.COM.:8080", "*.example.com:8080"},
		{"registry.npmjs.org:8443", "registry.npmjs.org:8443"},
		{"x.com:080", "x.com:80"},
		{"x.com:1", "x.com:1"},
		{"x.com:65535", "x.com:65535"},
		{"1.2.3.4", "1.2.3.4"},
		{"10.0.0.1.:8080", "10.0.0.1:8080"},
		{strings.Repeat("a", 63) + ".com", strings.Repeat("a", 63) + ".com"},
	}
	for _, c := range good {
		got, err := ParsePattern(c.in)
		if got != c.want || err != nil {
			t.Errorf("ParsePattern(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}

	const hostRule = ": not a valid host name (labels are 1 to 63 letters, digits and hyphens, not starting or ending with a hyphen)"
	bad := []struct{ in, want string }{
		{"", `"": empty; give a host name`},
		{" x.com", `" x.com": contains whitespace or control characters`},
		{"x.com\n", `"x.com\n": contains whitespace or control characters`},
		{"x\u00a0.com", `"x\u00a0.com": contains whitespace or control characters`},
		{"bücher.de", `"bücher.de": not ASCII; write international names in their punycode (xn--) form`},
		{"https://x.com", `"https://x.com" is a URL; give the host name alone`},
		{"x.com/path", `"x.com/path" has a path; give the host name alone`},
		{"x.com?q", `"x.com?q" has a path; give the host name alone`},
		{"user@x.com", `"user@x.com" has user info; give the host name alone`},
		{"user:pw@x.com", `"user:pw@x.com" has user info; give the host name alone`},
		{"::1", `"::1": IPv6 addresses are not supported`},
		{"[::1]:443", `"[::1]:443": IPv6 addresses are not supported`},
		{"[2001:db8::1]", `"[2001:db8::1]": IPv6 addresses are not supported`},
		{"x.com:99999", `"x.com:99999": port must be 1 to 65535`},
		{"x.com:0", `"x.com:0": port must be 1 to 65535`},
		{"x.com:", `"x.com:": port must be 1 to 65535`},
		{"x.com:+80", `"x.com:+80": port must be 1 to 65535`},
		{"x.com:http", `"x.com:http": port must be 1 to 65535`},
		{"*", `"*" is not a host name or "*.suffix" pattern`},
		{"*.", `"*." is not a host name or "*.suffix" pattern`},
		{"*..", `"*.." is not a host name or "*.suffix" pattern`},
		{"**.x", `"**.x" is not a host name or "*.suffix" pattern`},
		{"*x.com", `"*x.com" is not a host name or "*.suffix" pattern`},
		{"a.*.com", `"a.*.com" is not a host name or "*.suffix" pattern`},
		{"*.*.com", `"*.*.com" is not a host name or "*.suffix" pattern`},
		{"*.1.2.3.4", `"*.1.2.3.4": a wildcard needs a DNS name, not an IP address`},
		{"*.4", `"*.4": a wildcard needs a DNS name, not an IP address`},
		{":80", `":80": missing host name`},
		{".", `".": missing host name`},
		{"1.2.3", `"1.2.3": not a valid IPv4 address`},
		{"1.2.3.256", `"1.2.3.256": not a valid IPv4 address`},
		{"010.0.0.1", `"010.0.0.1": not a valid IPv4 address`},
		{"x.com..", `"x.com.."` + hostRule},
		{"a..com", `"a..com"` + hostRule},
		{"-a.com", `"-a.com"` + hostRule},
		{"a-.com", `"a-.com"` + hostRule},
		{"a_b.com", `"a_b.com"` + hostRule},
		{"*.-a.com", `"*.-a.com"` + hostRule},
		{strings.Repeat("a", 64) + ".com", `"` + strings.Repeat("a", 64) + `.com"` + hostRule},
		{strings.Repeat("a.", 127) + "com", `"` + strings.Repeat("a.", 127) + `com": host name is longer than 253 characters`},
	}
	for _, c := range bad {
		got, err := ParsePattern(c.in)
		if err == nil || err.Error() != c.want {
			t.Errorf("ParsePattern(%q) = %q, %v; want error %s", c.in, got, err, c.want)
		}
	}
}

func TestNewAllowlistError(t *testing.T) {
	_, err := NewAllowlist([]string{"ok.com", "https://x.com", "*"})
	if want := `"https://x.com" is a URL; give the host name alone`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
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

// TestMatch: the rule that allowed a request says whether it is an IPv4
// address, which the proxy lets reach internal addresses, or a name, which
// it does not.
func TestMatch(t *testing.T) {
	a, err := NewAllowlist([]string{"10.1.2.3:8080", "10.1.2.3", "*.example.com:8080", "x.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		host string
		port int
		rule string
		ip   string // "" for none
	}{
		{"10.1.2.3", 8080, "10.1.2.3:8080", "10.1.2.3"},
		{"10.1.2.3.", 443, "10.1.2.3", "10.1.2.3"},
		{"X.example.com", 8080, "*.example.com:8080", ""},
		{"x.example.com", 80, "x.example.com", ""},
	}
	for _, c := range cases {
		r, ok := a.match(c.host, c.port)
		ip := ""
		if r.ip.IsValid() {
			ip = r.ip.String()
		}
		if !ok || r.String() != c.rule || ip != c.ip {
			t.Errorf("match(%q, %d) = %s (IP %q), %v; want %s (IP %q)", c.host, c.port, r, ip, ok, c.rule, c.ip)
		}
	}
	if r, ok := a.match("10.1.2.4", 8080); ok {
		t.Errorf("match(10.1.2.4, 8080) = %s", r)
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"api.anthropic.com", "*.Example.COM.:8080", "1.2.3.4", "x.com:080", "*.", "[::1]:80", "https://x", "a\u212Ab.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		p, err := ParsePattern(entry)
		if err != nil {
			if strings.IndexFunc(err.Error(), unicode.IsControl) >= 0 {
				t.Fatalf("error for %q has control characters: %q", entry, err)
			}
			return
		}
		if q, err := ParsePattern(p); q != p || err != nil {
			t.Fatalf("ParsePattern(%q) = %q, but ParsePattern(%q) = %q, %v", entry, p, p, q, err)
		}
		if strings.IndexFunc(p, func(c rune) bool {
			return unicode.IsSpace(c) || unicode.IsControl(c) || unicode.IsUpper(c) || c > unicode.MaxASCII
		}) >= 0 {
			t.Fatalf("ParsePattern(%q) = %q", entry, p)
		}
	})
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
		norm, _ := ParsePattern(pattern)
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
