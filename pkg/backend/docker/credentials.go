package docker

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/moby/moby/api/types/registry"
)

// credentials are the registry credentials the docker CLI keeps, read
// with its own library from config.json in its config directory: the
// auths written by docker login, or a credential helper
// (docker-credential-NAME on PATH) that credsStore names for every
// registry and credHelpers for one. The file is read once, when the first
// image needs pulling; a start that pulls nothing never reads it.
type credentials struct {
	dir  string // the docker CLI's config directory; "" when there is none
	once sync.Once
	file *configfile.ConfigFile
	err  error
}

// hubKey is Docker Hub's key in config.json.
const hubKey = "https://index.docker.io/v1/"

// path is config.json's path, for messages.
func (c *credentials) path() string {
	return filepath.Join(c.dir, config.ConfigFileName)
}

// load reads config.json once; a missing one holds no credentials.
func (c *credentials) load() (*configfile.ConfigFile, error) {
	c.once.Do(func() {
		if c.dir == "" {
			return
		}
		if c.file, c.err = config.Load(c.dir); c.err != nil {
			c.err = fmt.Errorf("the Docker CLI's configuration: %s", strings.ReplaceAll(c.err.Error(), "\n", " "))
		}
	})
	return c.file, c.err
}

// auth is what the Engine is handed to pull from host, a registry's name
// as a reference has it (docker.io for Docker Hub): its X-Registry-Auth
// value, "" when the user keeps no credentials for it, and the secrets in
// it, which no message may carry. Only host's own credentials are looked
// up, so another registry's never reach the Engine with this pull.
func (c *credentials) auth(host string) (header string, secrets []string, err error) {
	file, err := c.load()
	if err != nil || file == nil {
		return "", nil, err
	}
	// The library keeps Docker Hub's under the key the docker CLI has
	// always used; a helper for it is named under that key too.
	key := host
	if host == "docker.io" {
		key = hubKey
	}
	helper := file.CredentialsStore
	if h, ok := file.CredentialHelpers[key]; ok {
		helper = h
	}
	// The library runs docker-credential-NAME; a NAME with a path in it
	// would run a program from wherever the path leads, the current
	// directory (a repository's) included, rather than from PATH.
	if strings.ContainsAny(helper, `/\`) {
		return "", nil, fmt.Errorf("%s names the credential helper %q for %s: a helper is docker-credential-NAME on PATH, and NAME may not be a path", c.path(), helper, host)
	}
	ac, err := file.GetAuthConfig(host)
	if err != nil {
		what := "the credentials for " + host + " in " + c.path()
		if helper != "" {
			what = fmt.Sprintf("the credential helper docker-credential-%s for %s", helper, host)
		}
		return "", nil, fmt.Errorf("%s: %s", what, oneLine(err.Error()))
	}
	if ac.Username == "" && ac.Password == "" && ac.IdentityToken == "" && ac.RegistryToken == "" {
		return "", nil, nil
	}
	data, err := json.Marshal(registry.AuthConfig{
		Username:      ac.Username,
		Password:      ac.Password,
		ServerAddress: ac.ServerAddress,
		IdentityToken: ac.IdentityToken,
		RegistryToken: ac.RegistryToken,
	})
	if err != nil {
		return "", nil, err
	}
	header = base64.URLEncoding.EncodeToString(data)
	secrets = []string{header, base64.StdEncoding.EncodeToString([]byte(ac.Username + ":" + ac.Password))}
	for _, s := range []string{ac.Password, ac.IdentityToken, ac.RegistryToken} {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	return header, secrets, nil
}

// oneLine is a message from elsewhere (a helper's output, the Engine's)
// made one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// redact replaces every secret in msg, however a registry or a helper
// came to echo it.
func redact(msg string, secrets []string) string {
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "[redacted]")
	}
	return msg
}
