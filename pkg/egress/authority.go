package egress

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

// AuthorityName is the common name of every bottle's authority, so that a
// certificate of it says what it is wherever it turns up.
const AuthorityName = "bottle egress authority"

// The authority's and its leaves' lifetimes.
//
// The authority lives as long as the proxy process, and a new one is made
// at every start, so its validity need only outlast a bottle. 30 days does,
// for all but a forgotten one (whose intercepted connections then fail
// verification in the agent until it is restarted), and bounds in time what
// a key that did leak out of the proxy's memory could sign; its name
// constraints already bound it to the secrets' hosts, and nobody but this
// bottle's agent trusts it at all. Both start clockSkew before now, for a
// clock that lags the proxy's a little. A leaf lasts a day, and is made
// anew when less than leafRenew of it is left, so that no handshake is
// given one about to expire.
const (
	authorityValidity = 30 * 24 * time.Hour
	leafValidity      = 24 * time.Hour
	leafRenew         = time.Hour
	clockSkew         = 5 * time.Minute
)

// Authority is the certificate authority a proxy with secrets makes for its
// bottle alone, and signs the certificates of the hosts it intercepts
// with. Its key is made in memory and never leaves it; its certificate is
// constrained to the secrets' hosts (see NewAuthority).
type Authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte

	mu     sync.Mutex
	leaves map[string]*tls.Certificate // by host, as the allowlist compares it
}

// NewAuthority makes an authority that may sign only for hosts, patterns
// of the allowlist's grammar (ports do not matter to it): ECDSA P-256, a
// random serial, CA with a path length of 0 (it signs leaves, never another
// authority), for certificate signing and server authentication alone, and
// with X.509 name constraints, critical, permitting only the hosts: an
// exact host as a DNS name (which X.509 reads as that name and the names
// below it), "*.suffix" as the domain suffix, an IPv4 address as itself.
// Names of a kind no host has, DNS names or IP addresses, are excluded
// altogether, so that a leaked key could not sign for any other host.
func NewAuthority(hosts []string) (*Authority, error) {
	var dns []string
	var ips []*net.IPNet
	seen := map[string]bool{}
	for _, h := range hosts {
		p, err := rules.ParsePattern(h)
		if err != nil {
			return nil, err
		}
		if seen[p.Host] {
			continue
		}
		seen[p.Host] = true
		if p.IP.IsValid() {
			ips = append(ips, &net.IPNet{IP: p.IP.AsSlice(), Mask: net.CIDRMask(32, 32)})
		} else {
			dns = append(dns, p.Host)
		}
	}
	if len(dns)+len(ips) == 0 {
		return nil, errors.New("an authority needs hosts to be constrained to")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: AuthorityName, Organization: []string{"bottle"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(authorityValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// RFC 5280 has name constraints critical.
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         dns,
		PermittedIPRanges:           ips,
	}
	// No permitted names of a kind permits every name of it: exclude the
	// kind instead ("" is every DNS name).
	if len(dns) == 0 {
		tmpl.ExcludedDNSDomains = []string{""}
	}
	if len(ips) == 0 {
		tmpl.ExcludedIPRanges = []*net.IPNet{
			{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
			{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Authority{
		cert:   cert,
		key:    key,
		pem:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		leaves: map[string]*tls.Certificate{},
	}, nil
}

func randomSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

// Certificate returns the authority's certificate.
func (a *Authority) Certificate() *x509.Certificate { return a.cert }

// CertPEM returns the authority's certificate, PEM-encoded.
func (a *Authority) CertPEM() []byte { return a.pem }

// WriteCert writes the authority's certificate (PEM, mode 0644) to
// rules.CAFile in dir, atomically: readers see the whole file or none, and
// returns its path.
func (a *Authority) WriteCert(dir string) (string, error) {
	path := filepath.Join(dir, rules.CAFile)
	f, err := os.CreateTemp(dir, "."+rules.CAFile+".*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	_, err = f.Write(a.pem)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return path, nil
}

// leaf returns a certificate for host (as the allowlist compares it: a DNS
// name or an IPv4 address) signed by the authority, made the first time
// and again when it nears its end.
func (a *Authority) leaf(host string) (*tls.Certificate, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if c, ok := a.leaves[host]; ok && now.Add(leafRenew).Before(c.Leaf.NotAfter) {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if tmpl.NotAfter.After(a.cert.NotAfter) {
		tmpl.NotAfter = a.cert.NotAfter
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		tmpl.IPAddresses = []net.IP{ip.AsSlice()}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return nil, fmt.Errorf("cannot sign a certificate for %s: %w", host, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{Certificate: [][]byte{der, a.cert.Raw}, PrivateKey: key, Leaf: leaf}
	a.leaves[host] = c
	return c, nil
}
