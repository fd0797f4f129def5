package docker

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/docker/go-connections/tlsconfig"
	"github.com/moby/moby/client"
)

// Config is how the docker backend reaches its Engine and makes networks:
// the values of the standard Docker variables and of BOTTLE_DOCKER_POOL.
// The Docker CLI's files that DOCKER_CONTEXT and DOCKER_CONFIG lead to are
// read only when the Engine is first needed.
type Config struct {
	Host       string // DOCKER_HOST: the Engine's address; it wins over any context
	APIVersion string // DOCKER_API_VERSION: a fixed API version instead of negotiating one
	CertPath   string // DOCKER_CERT_PATH: the directory of ca.pem, cert.pem and key.pem
	TLSVerify  bool   // DOCKER_TLS_VERIFY set: verify the Engine's certificate
	Context    string // DOCKER_CONTEXT: the Docker context, instead of the config's currentContext
	ConfigDir  string // DOCKER_CONFIG, else ~/.docker; "" when neither can be known
	Pool       string // BOTTLE_DOCKER_POOL: see EnvPool
	// TetherImage, BOTTLE_TETHER_IMAGE, holds bottle-tether, which ends a
	// one-off command when its client goes; "" is DefaultTetherImage.
	TetherImage string
	// PullTimeout, BOTTLE_PULL_TIMEOUT, bounds a pull's silence (see
	// EnvPullTimeout); "" is DefaultPullTimeout.
	PullTimeout string
}

// DefaultTetherImage is the image `make images` builds of bottle-tether.
const DefaultTetherImage = "bottle-tether:latest"

// EnvTetherImage names another image of bottle-tether, such as a test
// run's own.
const EnvTetherImage = "BOTTLE_TETHER_IMAGE"

// The Docker CLI's names for where its configuration lives.
const (
	envContext = "DOCKER_CONTEXT"
	envConfig  = "DOCKER_CONFIG"
)

// ConfigFromEnv reads the configuration from the environment, as getenv
// (os.Getenv, say) reports it.
func ConfigFromEnv(getenv func(string) string) Config {
	dir := getenv(envConfig)
	if dir == "" {
		if home := getenv("HOME"); home != "" {
			dir = filepath.Join(home, ".docker")
		}
	}
	return Config{
		Host:        getenv(client.EnvOverrideHost),
		APIVersion:  getenv(client.EnvOverrideAPIVersion),
		CertPath:    getenv(client.EnvOverrideCertPath),
		TLSVerify:   getenv(client.EnvTLSVerify) != "",
		Context:     getenv(envContext),
		ConfigDir:   dir,
		Pool:        getenv(EnvPool),
		TetherImage: getenv(EnvTetherImage),
		PullTimeout: getenv(EnvPullTimeout),
	}
}

// clientOptions configure the Engine client from the standard variables
// as the client's own FromEnv does from the environment.
func (cfg Config) clientOptions() ([]client.Opt, error) {
	var opts []client.Opt
	if cfg.CertPath != "" {
		tc, err := tlsconfig.Client(tlsconfig.Options{
			CAFile:             filepath.Join(cfg.CertPath, "ca.pem"),
			CertFile:           filepath.Join(cfg.CertPath, "cert.pem"),
			KeyFile:            filepath.Join(cfg.CertPath, "key.pem"),
			InsecureSkipVerify: !cfg.TLSVerify,
			MinVersion:         tls.VersionTLS12,
		})
		if err != nil {
			return nil, fmt.Errorf("configure TLS from %q: %w", client.EnvOverrideCertPath+"="+cfg.CertPath, err)
		}
		opts = append(opts, client.WithHTTPClient(&http.Client{
			Transport:     &http.Transport{TLSClientConfig: tc},
			CheckRedirect: client.CheckRedirect,
		}))
	}
	if cfg.Host != "" {
		opts = append(opts, client.WithHost(cfg.Host))
	}
	return append(opts, client.WithAPIVersion(cfg.APIVersion)), nil
}
