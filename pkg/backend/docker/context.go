package docker

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/client"
)

// The Docker CLI's names for the things a context is made of.
const (
	defaultContext = "default"
	dockerEndpoint = "docker"
)

// endpoint is the Engine a Docker context names, resolved as the docker CLI
// resolves it. Context is empty when the environment decides instead
// (DOCKER_HOST, or the default context): then the standard variables apply.
type endpoint struct {
	Context string // the context's name, or "" for the environment
	Source  string // what named the context: DOCKER_CONTEXT, or currentContext in a config.json
	Host    string // the context's docker endpoint, e.g. unix:///var/run/docker.sock
	// SkipTLSVerify and the TLS material (paths of the files the context
	// store holds, "" where it holds none) matter only when TLS is set; it
	// is, as in the docker CLI, when the Host is not a local socket and the
	// context store has a TLS directory for its docker endpoint or says
	// to skip verification.
	TLS           bool
	SkipTLSVerify bool
	CA, Cert, Key string
}

// resolveEndpoint finds the Engine the way the docker CLI does: a
// non-empty DOCKER_HOST means the environment; else the context named by
// DOCKER_CONTEXT, else by currentContext in the config directory's
// config.json; no name or "default" means the environment too. A named
// context is read from the CLI's context store. It reads config.json (only
// when DOCKER_CONTEXT is unset) and the context's meta.json, nothing else
// but for a TLS directory's listing.
func resolveEndpoint(cfg Config) (endpoint, error) {
	if cfg.Host != "" {
		return endpoint{}, nil
	}
	dir := cfg.ConfigDir
	name, source := cfg.Context, envContext
	if name == "" {
		if dir == "" {
			return endpoint{}, nil
		}
		var err error
		source = "currentContext in " + filepath.Join(dir, "config.json")
		if name, err = currentContext(filepath.Join(dir, "config.json")); err != nil {
			return endpoint{}, err
		}
	}
	if name == "" || name == defaultContext {
		return endpoint{}, nil
	}
	ep := endpoint{Context: name, Source: source}
	fail := func(format string, args ...any) (endpoint, error) {
		return endpoint{}, contextError{fmt.Errorf("docker context %q: %s (from %s)", name, fmt.Sprintf(format, args...), source)}
	}
	if dir == "" {
		return fail("no Docker config directory to find it in (neither %s nor HOME is set)", envConfig)
	}
	store := filepath.Join(dir, "contexts")
	id := contextID(name)
	metaFile := filepath.Join(store, "meta", id, "meta.json")
	data, err := os.ReadFile(metaFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail("not found in %s", store)
	case err != nil:
		return fail("cannot read %s: %s", metaFile, cause(err))
	}
	var meta struct {
		Endpoints map[string]json.RawMessage
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return fail("%s is not valid: %v", metaFile, err)
	}
	var docker *struct {
		Host          string
		SkipTLSVerify bool
	}
	if raw, ok := meta.Endpoints[dockerEndpoint]; ok {
		if err := json.Unmarshal(raw, &docker); err != nil {
			return fail("%s: its docker endpoint is not valid: %v", metaFile, err)
		}
	}
	if docker == nil {
		return fail("has no docker endpoint in %s", metaFile)
	}
	// Like the docker CLI, a docker endpoint without a host means the
	// default socket.
	ep.Host, ep.SkipTLSVerify = docker.Host, docker.SkipTLSVerify
	if ep.Host == "" {
		ep.Host = client.DefaultDockerHost
	}
	scheme, _, _ := strings.Cut(ep.Host, "://")
	switch scheme {
	case "ssh":
		return fail("its host %s needs the docker CLI's ssh connection helper, which bottle does not have (it talks to the Engine API itself): use a tcp:// or unix:// context, or DOCKER_HOST", ep.Host)
	case "unix", "npipe", "fd":
		// A local socket: the docker CLI uses no TLS there, whatever the store holds.
		return ep, nil
	}
	tlsDir := filepath.Join(store, "tls", id, dockerEndpoint)
	files, err := os.ReadDir(tlsDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		ep.TLS = ep.SkipTLSVerify
		return ep, nil
	case err != nil:
		return fail("cannot read %s: %s", tlsDir, cause(err))
	}
	ep.TLS = true
	for _, f := range files {
		path := filepath.Join(tlsDir, f.Name())
		switch f.Name() {
		case "ca.pem":
			ep.CA = path
		case "cert.pem":
			ep.Cert = path
		case "key.pem":
			ep.Key = path
		}
	}
	return ep, nil
}

// contextID is the directory the context store keeps a context in: the hex
// SHA-256 of its name.
func contextID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// currentContext reads the current context's name from the docker CLI's
// config.json; a missing file names none. The CLI warns about a file it
// cannot read and goes on with the default context; bottle has nowhere to
// warn and would then quietly use another Engine than the user's docker
// does, so that is an error here.
func currentContext(path string) (string, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		return "", contextError{fmt.Errorf("the Docker CLI's configuration: cannot read %s: %s", path, cause(err))}
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return "", contextError{fmt.Errorf("the Docker CLI's configuration: %s is not valid: %v", path, err)}
	}
	return cfg.CurrentContext, nil
}

// cause is a file error without the path, which the messages name already.
func cause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// tlsConfig is the TLS configuration of a context's docker endpoint, made
// as the docker CLI makes it: the CA, when there is one, is the only root
// trusted; the client certificate is used when both halves are there.
func (ep endpoint) tlsConfig() (*tls.Config, error) {
	if !ep.TLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: ep.SkipTLSVerify}
	if ep.CA != "" {
		pem, err := os.ReadFile(ep.CA)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %s", ep.CA, cause(err))
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", ep.CA)
		}
	}
	if ep.Cert != "" && ep.Key != "" {
		pair, err := tls.LoadX509KeyPair(ep.Cert, ep.Key)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s and key %s: %v", ep.Cert, ep.Key, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// contextError is a Docker context, or the CLI configuration that names
// one, that cannot be used; its message says which and why.
type contextError struct{ err error }

func (e contextError) Error() string { return e.err.Error() }
func (e contextError) Unwrap() error { return e.err }

// newClient makes the Engine client: from the standard variables, as
// client.FromEnv would, unless a Docker context names the Engine. It also
// returns the endpoint, so that messages can name the context.
func newClient(cfg Config) (*client.Client, endpoint, error) {
	ep, err := resolveEndpoint(cfg)
	if err != nil {
		return nil, ep, err
	}
	if ep.Context == "" {
		opts, err := cfg.clientOptions()
		if err != nil {
			return nil, ep, err
		}
		c, err := client.New(opts...)
		return c, ep, err
	}
	fail := func(err error) (*client.Client, endpoint, error) {
		return nil, ep, contextError{fmt.Errorf("docker context %q: %w (from %s)", ep.Context, err, ep.Source)}
	}
	var opts []client.Opt
	tc, err := ep.tlsConfig()
	if err != nil {
		return fail(err)
	}
	if tc != nil {
		// WithHost then fits this transport to the host, as it does the
		// client's own.
		opts = append(opts, client.WithHTTPClient(&http.Client{
			Transport:     &http.Transport{TLSClientConfig: tc},
			CheckRedirect: client.CheckRedirect,
		}))
	}
	opts = append(opts, client.WithHost(ep.Host), client.WithAPIVersion(cfg.APIVersion))
	c, err := client.New(opts...)
	if err != nil {
		return fail(err)
	}
	return c, ep, nil
}
