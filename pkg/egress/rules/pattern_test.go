package rules

import (
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
		if got.String() != c.want || err != nil {
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

func TestCanonicalHost(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"API.Example.com.", "api.example.com", true},
		{"10.1.2.3", "10.1.2.3", true},
		{"localhost", "localhost", true},
		{"010.1.2.3", "", false},
		{"::1", "", false},
		{"[::1]", "", false},
		{"a_b.com", "", false},
		{"x.com..", "", false},
		{"", "", false},
	} {
		if got, ok := CanonicalHost(c.in); got != c.want || ok != c.ok {
			t.Errorf("CanonicalHost(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"api.anthropic.com", "*.Example.COM.:8080", "1.2.3.4", "x.com:080", "*.", "[::1]:80", "https://x", "a\u212Ab.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		parsed, err := ParsePattern(entry)
		if err != nil {
			if strings.IndexFunc(err.Error(), unicode.IsControl) >= 0 {
				t.Fatalf("error for %q has control characters: %q", entry, err)
			}
			return
		}
		p := parsed.String()
		if q, err := ParsePattern(p); q != parsed || err != nil {
			t.Fatalf("ParsePattern(%q) = %q, but ParsePattern(%q) = %q, %v", entry, p, p, q, err)
		}
		if strings.IndexFunc(p, func(c rune) bool {
			return unicode.IsSpace(c) || unicode.IsControl(c) || unicode.IsUpper(c) || c > unicode.MaxASCII
		}) >= 0 {
			t.Fatalf("ParsePattern(%q) = %q", entry, p)
		}
	})
}
