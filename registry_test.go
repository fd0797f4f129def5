package bottle_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/crypto/bcrypt"

	"github.com/bottle-dev/bottle/internal/scratchimage"
)

// registryCmds are the scripts' commands for images pulled from a registry.
var registryCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"registry":        cmdRegistry,
	"registry-push":   cmdRegistryPush,
	"registry-hung":   cmdRegistryHung,
	"registry-fake":   cmdRegistryFake,
	"docker-login":    cmdDockerLogin,
	"docker-image":    cmdDockerImage,
	"docker-image-rm": cmdDockerImageRm,
}

// registryLabel marks the images a script pushed to its registry, and so
// the same images once pulled back, with the registry's address: the
// script removes them all when it ends.
const registryLabel = "bottle-test-registry"

// registry VAR [USER:PASSWORD]: starts Debian's docker-registry (the
// distribution registry) on 127.0.0.1 at a port of its own, its storage
// and configuration in a directory of the script's, with basic
// authentication for USER when given; $VAR is its address. When the
// script ends the registry is stopped, and every image pushed to it or
// pulled from it is removed from the Engine.
func cmdRegistry(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: registry VAR [USER:PASSWORD]")
	}
	dir, err := os.MkdirTemp("", "bottle-registry")
	ts.Check(err)
	ts.Defer(func() { os.RemoveAll(dir) })
	addr := freeAddr(ts)
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	if len(args) == 2 {
		user, pass, _ := strings.Cut(args[1], ":")
		hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		ts.Check(err)
		ts.Check(os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(user+":"+string(hash)+"\n"), 0o600))
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: bottle-test\n    path: %s\n", filepath.Join(dir, "htpasswd"))
	}
	ts.Check(os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o600))
	cmd := exec.Command("/usr/bin/docker-registry", "serve", filepath.Join(dir, "config.yml"))
	log, err := os.Create(filepath.Join(dir, "log"))
	ts.Check(err)
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		ts.Fatalf("starting docker-registry (make deps installs Debian's docker-registry): %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	ts.Defer(func() {
		removeRegistryImages(addr)
		cmd.Process.Kill()
		<-done
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		res, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			res.Body.Close()
			break
		}
		select {
		case <-done:
			out, _ := os.ReadFile(filepath.Join(dir, "log"))
			ts.Fatalf("docker-registry ended: %s", out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			ts.Fatalf("docker-registry does not answer at %s", addr)
		}
	}
	ts.Setenv(args[0], addr)
}

// freeAddr is an address on 127.0.0.1 that nothing listens on now.
func freeAddr(ts *testscript.TestScript) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	defer ln.Close()
	return ln.Addr().String()
}

// removeRegistryImages removes every image a script pushed to the
// registry at addr, or pulled from it.
func removeRegistryImages(addr string) {
	c, err := engineClient()
	if err != nil {
		return
	}
	ctx := context.Background()
	imgs, err := c.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("label", registryLabel+"="+addr)})
	if err != nil {
		return
	}
	for _, img := range imgs.Items {
		c.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true})
	}
}

// registry-push [-auth USER:PASSWORD] REF VARIANT: builds a busybox image
// whose /etc/ssl/certs/ca-certificates.crt holds the line VARIANT (so
// that two variants differ, and a program inside can tell which), pushes
// it to REF's registry, and removes it from the Engine again, so that only
// a pull can bring it back (an image REF the Engine had before is REF
// again). $DIGEST is then the digest of what was pushed.
func cmdRegistryPush(ts *testscript.TestScript, neg bool, args []string) {
	auth := encodeAuth(ts, registry.AuthConfig{}) // the Engine wants one, even empty
	if len(args) > 2 && args[0] == "-auth" {
		user, pass, _ := strings.Cut(args[1], ":")
		auth = encodeAuth(ts, registry.AuthConfig{Username: user, Password: pass})
		args = args[2:]
	}
	if neg || len(args) != 2 {
		ts.Fatalf("usage: registry-push [-auth USER:PASSWORD] REF VARIANT")
	}
	ref, variant := args[0], args[1]
	host, _, _ := strings.Cut(ref, "/")
	c, ctx := mustEngine(ts), context.Background()
	marks := map[string]string{runLabel: run, scriptLabel: ts.Getenv("SCRIPT"), registryLabel: host, "bottle-test-variant": variant}
	var had string
	if info, err := c.ImageInspect(ctx, ref); err == nil {
		had = info.ID
	}
	ts.Check(scratchimage.Busybox(ctx, c, ref, marks, []byte(variant+"\n")))
	defer func() {
		c.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true})
		if had != "" {
			_, err := c.ImageTag(ctx, client.ImageTagOptions{Source: had, Target: ref})
			ts.Check(err)
		}
	}()
	res, err := c.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: auth})
	ts.Check(err)
	for msg, err := range res.JSONMessages(ctx) {
		ts.Check(err)
		if msg.Error != nil {
			ts.Fatalf("pushing %s: %s", ref, msg.Error.Message)
		}
		if msg.Aux != nil {
			var aux struct{ Digest string }
			if json.Unmarshal(*msg.Aux, &aux) == nil && aux.Digest != "" {
				ts.Setenv("DIGEST", aux.Digest)
			}
		}
	}
}

func encodeAuth(ts *testscript.TestScript, ac registry.AuthConfig) string {
	data, err := json.Marshal(ac)
	ts.Check(err)
	return base64.URLEncoding.EncodeToString(data)
}

// docker-login DIR HOST USER:PASSWORD: adds HOST's credentials to
// DIR/config.json as docker login writes them.
func cmdDockerLogin(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: docker-login DIR HOST USER:PASSWORD")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o700))
	file := filepath.Join(dir, "config.json")
	cfg := map[string]map[string]map[string]string{"auths": {}}
	if data, err := os.ReadFile(file); err == nil {
		ts.Check(json.Unmarshal(data, &cfg))
	}
	cfg["auths"][args[1]] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(args[2]))}
	data, err := json.Marshal(cfg)
	ts.Check(err)
	ts.Check(os.WriteFile(file, data, 0o600))
}

// docker-image REF: prints the variant of the image REF on the Engine
// (see registry-push); with !, checks that the Engine has no image REF.
func cmdDockerImage(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: docker-image REF")
	}
	info, err := mustEngine(ts).ImageInspect(context.Background(), args[0])
	switch {
	case neg && err == nil:
		ts.Fatalf("the Engine has the image %s", args[0])
	case neg:
		return
	}
	ts.Check(err)
	fmt.Fprintln(ts.Stdout(), info.Config.Labels["bottle-test-variant"])
}

// docker-image-rm REF: removes the image REF from the Engine.
func cmdDockerImageRm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: docker-image-rm REF")
	}
	_, err := mustEngine(ts).ImageRemove(context.Background(), args[0], client.ImageRemoveOptions{Force: true})
	ts.Check(err)
}

// registry-hung VAR: listens on 127.0.0.1, takes every connection and
// never answers, until the script ends; $VAR is its address.
func cmdRegistryHung(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: registry-hung VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	holdConnections(ts, ln)
	ts.Setenv(args[0], ln.Addr().String())
}

// registry-fake VAR MODE: a hostile registry on 127.0.0.1, until the
// script ends; $VAR is its address and $VAR_LOG a file that gets one line
// per request it had, with the credentials it was sent. It answers the
// registry's ping (GET /v2/), and then, by MODE:
//   - quiet: nothing at all, the connection held open;
//   - drip: a manifest that never ends, a byte every 100ms (for at most a
//     minute);
//   - huge: a manifest of 64 MiB (well-formed JSON, no layers);
//   - echo: 401 with an error message that holds the credentials it was
//     sent, as a registry that wants them shown in a log would.
func cmdRegistryFake(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: registry-fake VAR quiet|drip|huge|echo")
	}
	mode := args[1]
	logFile := ts.MkAbs(args[0] + ".log")
	var logMu sync.Mutex
	stop := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logMu.Lock()
		if f, err := os.OpenFile(logFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			fmt.Fprintf(f, "%s %s auth=%q\n", r.Method, r.URL.Path, r.Header.Get("Authorization"))
			f.Close()
		}
		logMu.Unlock()
		if r.URL.Path == "/v2/" && mode != "echo" {
			w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
			w.WriteHeader(http.StatusOK)
			return
		}
		switch mode {
		case "quiet":
			select {
			case <-stop:
			case <-r.Context().Done():
			}
		case "drip", "huge":
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
			w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
			head, tail := `{"schemaVersion": 2, "x": "`, `"}`
			if mode == "huge" {
				w.Header().Set("Content-Length", strconv.Itoa(len(head)+64<<20+len(tail)))
			}
			w.WriteHeader(http.StatusOK)
			bw := bufio.NewWriter(w)
			bw.WriteString(head)
			for i := 0; ; i++ {
				if mode == "huge" {
					if i >= 64<<10 {
						bw.WriteString(tail)
						bw.Flush()
						return
					}
					bw.WriteString(strings.Repeat("a", 1<<10))
					continue
				}
				bw.WriteByte('a')
				bw.Flush()
				w.(http.Flusher).Flush()
				select {
				case <-stop:
					return
				case <-r.Context().Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
				if i > 600 {
					return
				}
			}
		case "echo":
			user, pass, _ := r.BasicAuth()
			w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
			w.Header().Set("WWW-Authenticate", `Basic realm="echo"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"errors":[{"code":"UNAUTHORIZED","message":"no entry for %s with password %s (%s)"}]}`, user, pass, r.Header.Get("Authorization"))
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	ts.Defer(func() {
		close(stop)
		srv.Close()
	})
	ts.Setenv(args[0], ln.Addr().String())
	ts.Setenv(args[0]+"_LOG", logFile)
}
