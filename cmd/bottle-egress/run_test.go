package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bottle-dev/bottle/internal/version"
	"github.com/bottle-dev/bottle/pkg/egress/rules"
)

// env is an environment for run.
func env(vars map[string]string) func(string) string {
	return func(key string) string { return vars[key] }
}

func TestRunErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	cases := []struct {
		args      []string
		envAllow  string
		envDeny   string
		code      int
		stderrPat string
	}{
		{[]string{"-allow", "ok.test", "-allow", "https://x.com"}, "", "", 2,
			`^bottle-egress: allowlist: "https://x.com" is a URL; give the host name alone\n$`},
		{nil, "ok.test,, *", "", 2,
			`^bottle-egress: allowlist: "\*" is not a host name or "\*.suffix" pattern\n$`},
		{[]string{"extra"}, "", "", 2, `^bottle-egress: unexpected argument "extra"\n$`},
		{[]string{"-bogus"}, "", "", 2, `^flag provided but not defined: -bogus\nusage: bottle-egress`},
		{[]string{"-deny", "10.0.0.1"}, "", "", 2,
			`^invalid value "10.0.0.1" for flag -deny: "10.0.0.1" is not a network such as 198.51.100.0/24 or 2001:db8::/32\nusage: bottle-egress`},
		{nil, "", "10.0.0.0/8, example.org", 2,
			`^bottle-egress: \$BOTTLE_EGRESS_DENY: "example.org" is not a network such as 198.51.100.0/24 or 2001:db8::/32\n$`},
		{[]string{"-listen", busy.Addr().String()}, "", "", 1, `^bottle-egress: listen tcp 127.0.0.1:\d+: .*\n$`},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(c.args, env(map[string]string{rules.EnvAllow: c.envAllow, rules.EnvDeny: c.envDeny}), &stdout, &stderr)
		if code != c.code || stdout.Len() > 0 || !regexp.MustCompile(c.stderrPat).MatchString(stderr.String()) {
			t.Errorf("run(%q) with %s=%q %s=%q = %d, stdout %q, stderr:\n%s\nwant %d, stderr matching %s",
				c.args, rules.EnvAllow, c.envAllow, rules.EnvDeny, c.envDeny, code, stdout.String(), stderr.String(), c.code, c.stderrPat)
		}
	}
}

// TestRunVersion: bottle-egress answers --version as every bottle binary
// does, with its name and the version from the build info, and does not
// start serving.
func TestRunVersion(t *testing.T) {
	for _, arg := range []string{"--version", "-version"} {
		var stdout, stderr bytes.Buffer
		code := run([]string{arg}, env(nil), &stdout, &stderr)
		if want := "bottle-egress " + version.String() + "\n"; code != 0 || stdout.String() != want || stderr.Len() > 0 {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want 0, stdout %q", arg, code, stdout.String(), stderr.String(), want)
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"-h"}, env(nil), &bytes.Buffer{}, &stderr); code != 0 || !strings.Contains(stderr.String(), "print the version and exit") {
		t.Errorf("-h = %d, stderr:\n%s\nwant 0 and -version among the flags", code, stderr.String())
	}
}

// TestRun starts the command, which then serves until the test binary exits,
// and sends it a request it denies.
func TestRun(t *testing.T) {
	stderr := &syncBuffer{}
	go run([]string{"-allow", "a.test"}, env(map[string]string{
		rules.EnvListen: "127.0.0.1:0",
		rules.EnvAllow:  " B.test ,,*.c.test",
	}), &bytes.Buffer{}, stderr)

	line := waitFor(t, stderr, `^bottle-egress: listening on (127\.0\.0\.1:\d+), allowing 3 patterns: a\.test, b\.test, \*\.c\.test\n$`)
	proxyURL := &url.URL{Scheme: "http", Host: line[1]}
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	resp, err := c.Get("http://denied.test/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("got %s, want 403", resp.Status)
	}
	waitFor(t, stderr, `^deny GET denied\.test:80 from 127\.0\.0\.1\n$`)

	go run(nil, env(map[string]string{rules.EnvListen: "127.0.0.1:0"}), &bytes.Buffer{}, stderr)
	waitFor(t, stderr, `^bottle-egress: listening on 127\.0\.0\.1:\d+, allowing nothing\n$`)
}

// TestRunDeny: networks to deny come from -deny and $BOTTLE_EGRESS_DENY, and
// hold against an entry that is an address in them.
func TestRunDeny(t *testing.T) {
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer service.Close()
	stderr := &syncBuffer{}
	go run([]string{"-deny", "203.0.113.7/24"}, env(map[string]string{
		rules.EnvListen: "127.0.0.1:0",
		rules.EnvAllow:  service.Listener.Addr().String(),
		rules.EnvDeny:   "10.9.0.0/16 , 127.0.0.0/8",
	}), &bytes.Buffer{}, stderr)

	line := waitFor(t, stderr, `^bottle-egress: listening on (127\.0\.0\.1:\d+), allowing 1 pattern: 127\.0\.0\.1:\d+, denying 203\.0\.113\.0/24, 10\.9\.0\.0/16, 127\.0\.0\.0/8\n$`)
	proxyURL := &url.URL{Scheme: "http", Host: line[1]}
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	resp, err := c.Get(service.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("got %s, want 403", resp.Status)
	}
	waitFor(t, stderr, `^deny GET 127\.0\.0\.1:\d+ from 127\.0\.0\.1 \(127\.0\.0\.1 is in 127\.0\.0\.0/8, which this proxy denies\)\n$`)
}

// syncBuffer is a log the test can read while the proxy writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// take returns what was logged since the last call.
func (s *syncBuffer) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.b.Reset()
	return s.b.String()
}

// waitFor waits until what was logged to b since the last call matches pattern
// and returns the submatches.
func waitFor(t *testing.T, b *syncBuffer, pattern string) []string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	var got strings.Builder
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		got.WriteString(b.take())
		if m := re.FindStringSubmatch(got.String()); m != nil {
			return m
		}
	}
	t.Fatalf("stderr:\n%s\nwant it to match %s", got.String(), pattern)
	return nil
}

// TestRunSecrets: with secrets, bottle-egress writes its authority's
// certificate to the CA directory and says so in one line with the
// secrets' names and hosts, never their values.
func TestRunSecrets(t *testing.T) {
	const value = "sk-REAL-value-do-not-print"
	dir := t.TempDir()
	stderr := &syncBuffer{}
	go run(nil, env(map[string]string{
		rules.EnvListen:   "127.0.0.1:0",
		rules.EnvAllow:    "api.example.test",
		rules.EnvSecrets:  rules.EncodeSecrets([]rules.Secret{{Name: "API_KEY", Placeholder: "ph-123", Value: value, Hosts: []string{"api.example.test"}}}),
		rules.EnvStateDir: dir,
	}), &bytes.Buffer{}, stderr)
	waitFor(t, stderr, `^bottle-egress: wrote `+regexp.QuoteMeta(filepath.Join(dir, rules.CAFile))+`, the certificate of this bottle's authority \(valid until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\), swapping API_KEY for api\.example\.test\n`+
		`bottle-egress: listening on 127\.0\.0\.1:\d+, allowing 1 pattern: api\.example\.test\n$`)
	b, err := os.ReadFile(filepath.Join(dir, rules.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("ca.pem:\n%s", b)
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil || ca.Subject.CommonName != "bottle egress authority" || len(ca.PermittedDNSDomains) != 1 || ca.PermittedDNSDomains[0] != "api.example.test" {
		t.Errorf("ca.pem: %v, %v", ca, err)
	}

	// Without secrets, no authority: only the allowlist, written from
	// the environment, and the list in force.
	empty := t.TempDir()
	go run(nil, env(map[string]string{rules.EnvListen: "127.0.0.1:0", rules.EnvStateDir: empty}), &bytes.Buffer{}, stderr)
	waitFor(t, stderr, `^bottle-egress: listening on 127\.0\.0\.1:\d+, allowing nothing\n$`)
	var names []string
	entries, _ := os.ReadDir(empty)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != rules.AllowFile+" "+rules.AllowInForceFile {
		t.Errorf("without secrets, the state directory has %q", names)
	}
}

// TestRunSecretErrors: bad secrets are refused (2), a CA directory that
// cannot be written fails (1), each with one line that has no value.
func TestRunSecretErrors(t *testing.T) {
	const value = "sk-REAL-value-do-not-print"
	good := rules.EncodeSecrets([]rules.Secret{{Name: "API_KEY", Placeholder: "ph-123", Value: value, Hosts: []string{"api.example.test"}}})
	dir := t.TempDir()
	cases := []struct {
		secrets, caDir string
		code           int
		pattern        string
	}{
		{`[{"name":"API_KEY","value":"` + value + `"x}]`, dir, 2, `^bottle-egress: \$BOTTLE_EGRESS_SECRETS: not a JSON array of secrets: a syntax error at byte \d+\n$`},
		{`[{"name":"API_KEY","placeholder":"p","value":"` + value + `"}]`, dir, 2, `^bottle-egress: \$BOTTLE_EGRESS_SECRETS: secret API_KEY: no hosts\n$`},
		{`[{"name":"API_KEY","placeholder":"p","value":"` + value + `","hosts":["https://x"]}]`, dir, 2, `^bottle-egress: \$BOTTLE_EGRESS_SECRETS: secret API_KEY: "https://x" is a URL; give the host name alone\n$`},
		{good, "", 2, `^bottle-egress: \$BOTTLE_EGRESS_SECRETS is set but \$BOTTLE_EGRESS_STATE_DIR is not: nowhere to write the authority's certificate\n$`},
		{good, filepath.Join(dir, "missing"), 1, `^bottle-egress: cannot write the authority's certificate: .*\n$`},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(nil, env(map[string]string{rules.EnvListen: "127.0.0.1:0", rules.EnvSecrets: c.secrets, rules.EnvStateDir: c.caDir}), &stdout, &stderr)
		if code != c.code || !regexp.MustCompile(c.pattern).MatchString(stderr.String()) || strings.Contains(stderr.String(), value) || strings.Contains(stderr.String(), "sk-") {
			t.Errorf("secrets %s, CA dir %q: %d, stderr %q; want %d, matching %s", c.secrets, c.caDir, code, stderr.String(), c.code, c.pattern)
		}
	}
}
