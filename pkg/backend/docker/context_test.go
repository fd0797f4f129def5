package docker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// writeContext puts a context's meta.json, as given, into the store under dir.
func writeContext(t *testing.T, dir, name, meta string) {
	t.Helper()
	d := filepath.Join(dir, "contexts", "meta", contextID(name))
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "meta.json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeTLS puts files (name, then content) into the TLS directory of a
// context's docker endpoint under dir, and returns that directory.
func writeTLS(t *testing.T, dir, name string, files ...string) string {
	t.Helper()
	d := filepath.Join(dir, "contexts", "tls", contextID(name), "docker")
	if err := os.MkdirAll(d, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(files); i += 2 {
		if err := os.WriteFile(filepath.Join(d, files[i]), []byte(files[i+1]), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func dockerMeta(name, host string) string {
	return `{"Name":"` + name + `","Metadata":{"Description":"test"},"Endpoints":{"docker":{"Host":"` + host + `","SkipTLSVerify":false}}}`
}

func TestContextID(t *testing.T) {
	t.Parallel()
	// The directory `docker context create local-test` makes, which
	// docker_context.txtar hard-codes: printf local-test | sha256sum.
	if got, want := contextID("local-test"), "a9a3f009fb827341c5bb0da7b0ba5ad0f953581e95aa921963a118e0a0916df7"; got != want {
		t.Fatalf("contextID = %s, want %s", got, want)
	}
}

func TestResolveEndpoint(t *testing.T) {
	t.Parallel()
	// Each case gets a fresh DOCKER_CONFIG (cfg) and HOME (home), and
	// prepares them; $CFG and $HOME in env values and wanted strings are
	// replaced by those directories.
	type want struct {
		context, source, host string
		tls, skip             bool
		ca, cert, key         bool
		err                   string // the whole message, when resolution fails
	}
	cases := []struct {
		name    string
		env     map[string]string
		prepare func(t *testing.T, cfg, home string)
		want    want
	}{{
		name: "nothing set: the environment, as today",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG"},
	}, {
		name: "no DOCKER_CONFIG and no HOME: the environment",
		env:  map[string]string{},
	}, {
		name: "DOCKER_HOST beats DOCKER_CONTEXT and currentContext",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_HOST": "tcp://elsewhere:2375", "DOCKER_CONTEXT": "remote"},
		prepare: func(t *testing.T, cfg, home string) {
			writeFile(t, filepath.Join(cfg, "config.json"), `{"currentContext":"other"}`)
			writeContext(t, cfg, "remote", dockerMeta("remote", "unix:///remote.sock"))
			writeContext(t, cfg, "other", dockerMeta("other", "unix:///other.sock"))
		},
	}, {
		name: "DOCKER_HOST beats even a context that does not exist",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_HOST": "unix:///var/run/docker.sock", "DOCKER_CONTEXT": "nope"},
	}, {
		name: "an empty DOCKER_HOST is unset",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_HOST": "", "DOCKER_CONTEXT": "remote"},
		prepare: func(t *testing.T, cfg, home string) {
			writeContext(t, cfg, "remote", dockerMeta("remote", "unix:///remote.sock"))
		},
		want: want{context: "remote", source: "DOCKER_CONTEXT", host: "unix:///remote.sock"},
	}, {
		name: "DOCKER_CONTEXT beats currentContext",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "remote"},
		prepare: func(t *testing.T, cfg, home string) {
			writeFile(t, filepath.Join(cfg, "config.json"), `{"currentContext":"other"}`)
			writeContext(t, cfg, "remote", dockerMeta("remote", "unix:///remote.sock"))
			writeContext(t, cfg, "other", dockerMeta("other", "unix:///other.sock"))
		},
		want: want{context: "remote", source: "DOCKER_CONTEXT", host: "unix:///remote.sock"},
	}, {
		name: "currentContext beats the default",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG"},
		prepare: func(t *testing.T, cfg, home string) {
			writeFile(t, filepath.Join(cfg, "config.json"), `{"auths":{},"currentContext":"other","plugins":{"x":{"y":"z"}}}`)
			writeContext(t, cfg, "other", dockerMeta("other", "unix:///other.sock"))
		},
		want: want{context: "other", source: "currentContext in $CFG/config.json", host: "unix:///other.sock"},
	}, {
		name: "DOCKER_CONFIG defaults to ~/.docker",
		env:  map[string]string{"HOME": "$HOME"},
		prepare: func(t *testing.T, cfg, home string) {
			writeFile(t, filepath.Join(home, ".docker", "config.json"), `{"currentContext":"other"}`)
			writeContext(t, filepath.Join(home, ".docker"), "other", dockerMeta("other", "unix:///other.sock"))
		},
		want: want{context: "other", source: "currentContext in $HOME/.docker/config.json", host: "unix:///other.sock"},
	}, {
		name: "DOCKER_CONFIG beats ~/.docker",
		env:  map[string]string{"HOME": "$HOME", "DOCKER_CONFIG": "$CFG"},
		prepare: func(t *testing.T, cfg, home string) {
			writeFile(t, filepath.Join(home, ".docker", "config.json"), `{"currentContext":"other"}`)
			writeContext(t, filepath.Join(home, ".docker"), "other", dockerMeta("other", "unix:///other.sock"))
		},
	}, {
		name: "config.json without currentContext: the default",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG"},
		prepare: func(t *testing.T, cfg, home string) {
			writeFile(t, filepath.Join(cfg, "config.json"), `{"auths":{}}`)
		},
	}, {
		name: "DOCKER_CONTEXT=default beats currentContext",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "default"},
		prepare: func(t *testing.T, cfg, home string) {
			writeFile(t, filepath.Join(cfg, "config.json"), `{"currentContext":"other"}`)
			writeContext(t, cfg, "other", dockerMeta("other", "unix:///other.sock"))
		},
	}, {
		name: "currentContext default",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG"},
		prepare: func(t *testing.T, cfg, home string) {
			writeFile(t, filepath.Join(cfg, "config.json"), `{"currentContext":"default"}`)
		},
	}, {
		name: "a context that does not exist, from DOCKER_CONTEXT",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "remote"},
		want: want{err: `docker context "remote": not found in $CFG/contexts (from DOCKER_CONTEXT)`},
	}, {
		name: "a context that does not exist, from config.json",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG"},
		prepare: func(t *testing.T, cfg, home string) {
			writeFile(t, filepath.Join(cfg, "config.json"), `{"currentContext":"gone"}`)
		},
		want: want{err: `docker context "gone": not found in $CFG/contexts (from currentContext in $CFG/config.json)`},
	}, {
		name: "DOCKER_CONTEXT without any config directory",
		env:  map[string]string{"DOCKER_CONTEXT": "remote"},
		want: want{err: `docker context "remote": no Docker config directory to find it in (neither DOCKER_CONFIG nor HOME is set) (from DOCKER_CONTEXT)`},
	}, {
		name: "a broken config.json",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG"},
		prepare: func(t *testing.T, cfg, home string) {
			writeFile(t, filepath.Join(cfg, "config.json"), `{"currentContext":`)
		},
		want: want{err: `the Docker CLI's configuration: $CFG/config.json is not valid: unexpected end of JSON input`},
	}, {
		name: "a broken config.json does not matter under DOCKER_CONTEXT",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "remote"},
		prepare: func(t *testing.T, cfg, home string) {
			writeFile(t, filepath.Join(cfg, "config.json"), `{"currentContext":`)
			writeContext(t, cfg, "remote", dockerMeta("remote", "unix:///remote.sock"))
		},
		want: want{context: "remote", source: "DOCKER_CONTEXT", host: "unix:///remote.sock"},
	}, {
		name: "a broken meta.json",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "remote"},
		prepare: func(t *testing.T, cfg, home string) {
			writeContext(t, cfg, "remote", `{"Name":"remote","Endpoints":{"docker":`)
		},
		want: want{err: `docker context "remote": $CFG/contexts/meta/` + contextID("remote") + `/meta.json is not valid: unexpected end of JSON input (from DOCKER_CONTEXT)`},
	}, {
		name: "a docker endpoint of the wrong shape",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "remote"},
		prepare: func(t *testing.T, cfg, home string) {
			writeContext(t, cfg, "remote", `{"Name":"remote","Endpoints":{"docker":{"Host":42}}}`)
		},
		want: want{err: `docker context "remote": $CFG/contexts/meta/` + contextID("remote") + `/meta.json: its docker endpoint is not valid: json: cannot unmarshal number into Go struct field .Host of type string (from DOCKER_CONTEXT)`},
	}, {
		name: "a meta.json that cannot be read",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "remote"},
		prepare: func(t *testing.T, cfg, home string) {
			// A directory where the file should be: unreadable also for root.
			if err := os.MkdirAll(filepath.Join(cfg, "contexts", "meta", contextID("remote"), "meta.json"), 0o755); err != nil {
				t.Fatal(err)
			}
		},
		want: want{err: `docker context "remote": cannot read $CFG/contexts/meta/` + contextID("remote") + `/meta.json: is a directory (from DOCKER_CONTEXT)`},
	}, {
		name: "an endpoint without docker",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "k8s"},
		prepare: func(t *testing.T, cfg, home string) {
			writeContext(t, cfg, "k8s", `{"Name":"k8s","Metadata":{},"Endpoints":{"kubernetes":{"Host":"https://k8s:6443"}}}`)
		},
		want: want{err: `docker context "k8s": has no docker endpoint in $CFG/contexts/meta/` + contextID("k8s") + `/meta.json (from DOCKER_CONTEXT)`},
	}, {
		name: "a null docker endpoint",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "k8s"},
		prepare: func(t *testing.T, cfg, home string) {
			writeContext(t, cfg, "k8s", `{"Name":"k8s","Endpoints":{"docker":null}}`)
		},
		want: want{err: `docker context "k8s": has no docker endpoint in $CFG/contexts/meta/` + contextID("k8s") + `/meta.json (from DOCKER_CONTEXT)`},
	}, {
		name: "a docker endpoint without a host: the default socket, as in the CLI",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "bare"},
		prepare: func(t *testing.T, cfg, home string) {
			writeContext(t, cfg, "bare", `{"Name":"bare","Endpoints":{"docker":{}}}`)
		},
		want: want{context: "bare", source: "DOCKER_CONTEXT", host: client.DefaultDockerHost},
	}, {
		name: "lower-case keys, as the store reads them too",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "remote"},
		prepare: func(t *testing.T, cfg, home string) {
			writeContext(t, cfg, "remote", `{"name":"remote","endpoints":{"docker":{"host":"tcp://remote:2375","skipTLSVerify":true}}}`)
		},
		want: want{context: "remote", source: "DOCKER_CONTEXT", host: "tcp://remote:2375", tls: true, skip: true},
	}, {
		name: "an ssh host: not supported, said so",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "remote"},
		prepare: func(t *testing.T, cfg, home string) {
			writeContext(t, cfg, "remote", dockerMeta("remote", "ssh://me@remote"))
		},
		want: want{err: `docker context "remote": its host ssh://me@remote needs the docker CLI's ssh connection helper, which bottle does not have (it talks to the Engine API itself): use a tcp:// or unix:// context, or DOCKER_HOST (from DOCKER_CONTEXT)`},
	}, {
		name: "TLS files picked up for a tcp host",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "remote"},
		prepare: func(t *testing.T, cfg, home string) {
			writeContext(t, cfg, "remote", dockerMeta("remote", "tcp://remote:2376"))
			writeTLS(t, cfg, "remote", "ca.pem", "x", "cert.pem", "x", "key.pem", "x", ".DS_Store", "x")
		},
		want: want{context: "remote", source: "DOCKER_CONTEXT", host: "tcp://remote:2376", tls: true, ca: true, cert: true, key: true},
	}, {
		name: "only the TLS files there are",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "remote"},
		prepare: func(t *testing.T, cfg, home string) {
			writeContext(t, cfg, "remote", `{"Name":"remote","Endpoints":{"docker":{"Host":"tcp://remote:2376","SkipTLSVerify":true}}}`)
			writeTLS(t, cfg, "remote", "cert.pem", "x", "key.pem", "x")
		},
		want: want{context: "remote", source: "DOCKER_CONTEXT", host: "tcp://remote:2376", tls: true, skip: true, cert: true, key: true},
	}, {
		name: "an empty TLS directory still means TLS, as in the CLI",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "remote"},
		prepare: func(t *testing.T, cfg, home string) {
			writeContext(t, cfg, "remote", dockerMeta("remote", "tcp://remote:2376"))
			writeTLS(t, cfg, "remote")
		},
		want: want{context: "remote", source: "DOCKER_CONTEXT", host: "tcp://remote:2376", tls: true},
	}, {
		name: "no TLS for a tcp host without TLS files",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "remote"},
		prepare: func(t *testing.T, cfg, home string) {
			writeContext(t, cfg, "remote", dockerMeta("remote", "tcp://remote:2375"))
		},
		want: want{context: "remote", source: "DOCKER_CONTEXT", host: "tcp://remote:2375"},
	}, {
		name: "no TLS for a unix socket, whatever the store holds",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "local"},
		prepare: func(t *testing.T, cfg, home string) {
			writeContext(t, cfg, "local", `{"Name":"local","Endpoints":{"docker":{"Host":"unix:///var/run/docker.sock","SkipTLSVerify":true}}}`)
			writeTLS(t, cfg, "local", "ca.pem", "x", "cert.pem", "x", "key.pem", "x")
		},
		want: want{context: "local", source: "DOCKER_CONTEXT", host: "unix:///var/run/docker.sock", skip: true},
	}, {
		name: "the TLS files of another endpoint are not the docker endpoint's",
		env:  map[string]string{"DOCKER_CONFIG": "$CFG", "DOCKER_CONTEXT": "remote"},
		prepare: func(t *testing.T, cfg, home string) {
			writeContext(t, cfg, "remote", dockerMeta("remote", "tcp://remote:2375"))
			writeFile(t, filepath.Join(cfg, "contexts", "tls", contextID("remote"), "kubernetes", "ca.pem"), "x")
		},
		want: want{context: "remote", source: "DOCKER_CONTEXT", host: "tcp://remote:2375"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, home := t.TempDir(), t.TempDir()
			expand := strings.NewReplacer("$CFG", cfg, "$HOME", home).Replace
			if tc.prepare != nil {
				tc.prepare(t, cfg, home)
			}
			ep, err := resolveEndpoint(ConfigFromEnv(func(k string) string { return expand(tc.env[k]) }))
			if tc.want.err != "" {
				if err == nil {
					t.Fatalf("resolved to %+v, want the error %s", ep, expand(tc.want.err))
				}
				if got, want := err.Error(), expand(tc.want.err); got != want {
					t.Fatalf("error\n  %s\nwant\n  %s", got, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tlsDir := filepath.Join(cfg, "contexts", "tls", contextID(ep.Context), "docker")
			file := func(there bool, name string) string {
				if there {
					return filepath.Join(tlsDir, name)
				}
				return ""
			}
			want := endpoint{
				Context: tc.want.context, Source: expand(tc.want.source), Host: tc.want.host,
				TLS: tc.want.tls, SkipTLSVerify: tc.want.skip,
				CA: file(tc.want.ca, "ca.pem"), Cert: file(tc.want.cert, "cert.pem"), Key: file(tc.want.key, "key.pem"),
			}
			if ep != want {
				t.Fatalf("resolved to\n  %+v\nwant\n  %+v", ep, want)
			}
		})
	}
}

// pki is a CA, and a server and a client certificate it signed, as PEM.
type pki struct {
	ca, serverCert, serverKey, clientCert, clientKey []byte
}

func newPKI(t *testing.T) pki {
	t.Helper()
	newKey := func() (*ecdsa.PrivateKey, []byte) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	serial := int64(0)
	sign := func(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, []byte) {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	var p pki
	caKey, _ := newKey()
	ca, caPEM := sign(&x509.Certificate{
		Subject: pkix.Name{CommonName: "test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}, nil, &caKey.PublicKey, caKey)
	p.ca = caPEM
	serverKey, serverKeyPEM := newKey()
	_, p.serverCert = sign(&x509.Certificate{
		Subject: pkix.Name{CommonName: "engine"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &serverKey.PublicKey, caKey)
	p.serverKey = serverKeyPEM
	clientKey, clientKeyPEM := newKey()
	_, p.clientCert = sign(&x509.Certificate{
		Subject:  pkix.Name{CommonName: "client"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, &clientKey.PublicKey, caKey)
	p.clientKey = clientKeyPEM
	return p
}

// fakeEngine is an Engine API over mutual TLS that answers pings, and only
// to clients that present a certificate of the CA.
func fakeEngine(t *testing.T, p pki) string {
	t.Helper()
	pair, err := tls.X509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.ca)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			w.Header().Set("Api-Version", client.MaxAPIVersion)
			w.Write([]byte("OK"))
			return
		}
		http.NotFound(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return "tcp://" + srv.Listener.Addr().String()
}

// TestContextTLS talks to a TLS Engine through contexts: the client uses the
// store's CA and client certificate, and honours SkipTLSVerify.
func TestContextTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	host := fakeEngine(t, p)
	cases := []struct {
		name  string
		skip  bool
		files []string
		err   string // a part of Usable's error; "" for usable
	}{
		{name: "CA and client certificate", files: []string{"ca.pem", string(p.ca), "cert.pem", string(p.clientCert), "key.pem", string(p.clientKey)}},
		{name: "no CA: the system roots do not know the server", files: []string{"cert.pem", string(p.clientCert), "key.pem", string(p.clientKey)}, err: "certificate signed by unknown authority"},
		{name: "no CA, SkipTLSVerify", skip: true, files: []string{"cert.pem", string(p.clientCert), "key.pem", string(p.clientKey)}},
		{name: "no client certificate: the server refuses", files: []string{"ca.pem", string(p.ca)}, err: "no Docker Engine answers at " + host + ` (docker context "remote")`},
		{name: "a CA that is not PEM", files: []string{"ca.pem", "not a certificate"}, err: "ca.pem holds no PEM certificate (from DOCKER_CONTEXT)"},
		{name: "a key that does not fit", files: []string{"cert.pem", string(p.clientCert), "key.pem", string(p.serverKey)}, err: "private key does not match public key (from DOCKER_CONTEXT)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := t.TempDir()
			skip := "false"
			if tc.skip {
				skip = "true"
			}
			writeContext(t, cfg, "remote", `{"Name":"remote","Endpoints":{"docker":{"Host":"`+host+`","SkipTLSVerify":`+skip+`}}}`)
			writeTLS(t, cfg, "remote", tc.files...)
			err := New(Config{ConfigDir: cfg, Context: "remote"}).Usable(context.Background())
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Usable = %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("Usable = %v, want an error with %q", err, tc.err)
			}
		})
	}
}

// TestUsableNamesTheContext: the reasons Usable gives for a context name it
// and what is wrong, without the "bad Docker settings" of the environment.
func TestUsableNamesTheContext(t *testing.T) {
	t.Parallel()
	cfg := t.TempDir()
	sock := filepath.Join(cfg, "missing.sock")
	writeContext(t, cfg, "gone", dockerMeta("gone", "unix://"+sock))
	writeContext(t, cfg, "bad", dockerMeta("bad", "nonsense"))
	cases := []struct{ context, want string }{
		{"nope", `docker context "nope": not found in ` + cfg + `/contexts (from DOCKER_CONTEXT)`},
		{"gone", `no Docker Engine answers at unix://` + sock + ` (docker context "gone"): no such file or directory`},
		{"bad", "docker context \"bad\": unable to parse docker host `nonsense` (from DOCKER_CONTEXT)"},
	}
	for _, tc := range cases {
		t.Run(tc.context, func(t *testing.T) {
			t.Parallel()
			b := New(Config{ConfigDir: cfg, Context: tc.context})
			err := b.Usable(context.Background())
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Usable = %v, want %s", err, tc.want)
			}
			// Every other use reports the same, from the one resolution.
			if _, err := b.client(); tc.context != "gone" && (err == nil || err.Error() != tc.want) {
				t.Fatalf("client = %v, want %s", err, tc.want)
			}
		})
	}
}

// TestCertPathTLS talks to a TLS Engine as DOCKER_CERT_PATH and
// DOCKER_TLS_VERIFY ask, as the client's own FromEnv would.
func TestCertPathTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	host := fakeEngine(t, p)
	certs := t.TempDir()
	for name, content := range map[string][]byte{"ca.pem": p.ca, "cert.pem": p.clientCert, "key.pem": p.clientKey} {
		writeFile(t, filepath.Join(certs, name), string(content))
	}
	for _, verify := range []bool{true, false} {
		if err := New(Config{Host: host, CertPath: certs, TLSVerify: verify}).Usable(context.Background()); err != nil {
			t.Errorf("DOCKER_CERT_PATH with DOCKER_TLS_VERIFY %v: Usable = %v", verify, err)
		}
	}
	// Without the certificates the Engine refuses the connection.
	if err := New(Config{Host: host}).Usable(context.Background()); err == nil {
		t.Error("Usable without DOCKER_CERT_PATH = nil, want the Engine's refusal")
	}
	missing := filepath.Join(t.TempDir(), "none")
	err := New(Config{Host: host, CertPath: missing}).Usable(context.Background())
	if want := `bad Docker settings: configure TLS from "DOCKER_CERT_PATH=` + missing + `": `; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Usable with a DOCKER_CERT_PATH that holds nothing = %v, want %s...", err, want)
	}
}
