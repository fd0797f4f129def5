package docker

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// EnvPool names an IPv4 range from which bottle carves its networks itself,
// instead of taking them from the Engine's default address pools, which
// hold about 30 networks: a bottle takes one, two with an egress sidecar.
const EnvPool = "BOTTLE_DOCKER_POOL"

// poolBits is the size of a carved network: 32 addresses, room for an
// agent and more sidecars than a definition may have.
const poolBits = 27

// poolTries bounds the draws of a free network from the pool.
const poolTries = 16

// parsePool returns the range a BOTTLE_DOCKER_POOL value names, or an
// invalid prefix for none: the Engine's own pools are to be used.
func parsePool(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || p.Bits() > poolBits {
		return netip.Prefix{}, fmt.Errorf("%s=%q: want an IPv4 range of /%d or larger, such as 10.213.0.0/16", EnvPool, s, poolBits)
	}
	return p.Masked(), nil
}

// createNetwork makes a bridge network, in a /27 drawn at random from the
// pool (a BOTTLE_DOCKER_POOL value) when there is one; a draw the Engine
// says overlaps another network is drawn again.
func createNetwork(ctx context.Context, c *client.Client, pool, name string, opts client.NetworkCreateOptions) (client.NetworkCreateResult, error) {
	p, err := parsePool(pool)
	if err != nil || !p.IsValid() {
		if err != nil {
			return client.NetworkCreateResult{}, err
		}
		res, err := c.NetworkCreate(ctx, name, opts)
		if err != nil && strings.Contains(err.Error(), "non-overlapping IPv4 address pool") {
			err = fmt.Errorf("%w (the Engine's default address pools are used up: each bottle takes a network, two with an egress sidecar; stop some agents, or set %s to a range bottle may carve networks from)", err, EnvPool)
		}
		return res, err
	}
	for range poolTries {
		opts.IPAM = &network.IPAM{Config: []network.IPAMConfig{{Subnet: draw(p)}}}
		res, err := c.NetworkCreate(ctx, name, opts)
		if err == nil || !strings.Contains(err.Error(), "overlaps") {
			return res, err
		}
	}
	return client.NetworkCreateResult{}, fmt.Errorf("no free /%d left in %s=%s after %d draws", poolBits, EnvPool, p, poolTries)
}

// draw picks one /27 of p at random.
func draw(p netip.Prefix) netip.Prefix {
	var b [4]byte
	rand.Read(b[:])
	blocks := uint32(1) << (poolBits - p.Bits())
	base := p.Addr().As4()
	n := binary.BigEndian.Uint32(base[:]) + binary.BigEndian.Uint32(b[:])%blocks<<(32-poolBits)
	binary.BigEndian.PutUint32(base[:], n)
	return netip.PrefixFrom(netip.AddrFrom4(base), poolBits)
}
