package docker

import (
	"net/netip"
	"testing"
)

func TestPool(t *testing.T) {
	t.Parallel()
	for env, want := range map[string]string{
		"":              "invalid Prefix",
		"10.213.0.0/16": "10.213.0.0/16",
		"10.213.7.9/16": "10.213.0.0/16",
		"10.9.9.0/27":   "10.9.9.0/27",
	} {
		if p, err := parsePool(env); err != nil || p.String() != want {
			t.Errorf("%s=%q: %v, %v; want %s", EnvPool, env, p, err, want)
		}
	}
	for _, env := range []string{"10.0.0.0/28", "fd00::/64", "ten", "10.0.0.0"} {
		if _, err := parsePool(env); err == nil {
			t.Errorf("%s=%q was accepted", EnvPool, env)
		}
	}
}

func TestDraw(t *testing.T) {
	t.Parallel()
	p := netip.MustParsePrefix("10.213.0.0/22")
	seen := map[netip.Prefix]bool{}
	for range 2000 {
		d := draw(p)
		if d.Bits() != poolBits || !p.Contains(d.Addr()) || d.Masked() != d {
			t.Fatalf("draw(%s) = %s, not a /%d inside it", p, d, poolBits)
		}
		seen[d] = true
	}
	if len(seen) != 32 {
		t.Errorf("2000 draws from a /22 hit %d of its 32 blocks", len(seen))
	}
	if d := draw(netip.MustParsePrefix("10.9.9.0/27")); d.String() != "10.9.9.0/27" {
		t.Errorf("draw from a single /27 = %s", d)
	}
}
