// Package scratchimage makes small images out of nothing but Debian's static
// busybox, imported straight into the Docker Engine, so that the examples and
// the tests run on an Engine that cannot pull from any registry.
package scratchimage

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// busyboxPath is where Debian's busybox-static package puts its binary.
const busyboxPath = "/bin/busybox"

// Busybox creates the image ref: a root file system holding busybox and a
// link for each of its applets, a root user, /tmp and /workspace, with the
// given labels and a shell as its command; roots, when there are any, as
// its system roots (PEM certificates in /etc/ssl/certs/ca-certificates.crt);
// and each static executable of extra in /usr/local/bin.
func Busybox(ctx context.Context, c *client.Client, ref string, labels map[string]string, roots []byte, extra ...string) error {
	rootfs, err := busyboxRootfs(roots, nil, extra...)
	if err != nil {
		return err
	}
	return importRootfs(ctx, c, ref, rootfs, labels, `CMD ["/bin/sh"]`)
}

// GitPath is where Debian's git package puts git.
const GitPath = "/usr/bin/git"

// BusyboxGit creates the image ref as Busybox does, with the host's git
// in it too: GitPath and the shared libraries it is linked with, each at
// the path the host has it, for agents that commit on a branch of their
// own.
func BusyboxGit(ctx context.Context, c *client.Client, ref string, labels map[string]string, roots []byte, extra ...string) error {
	files, err := withLibraries(GitPath)
	if err != nil {
		return err
	}
	rootfs, err := busyboxRootfs(roots, files, extra...)
	if err != nil {
		return err
	}
	// Debian's git pages through "pager", which no busybox image has.
	return importRootfs(ctx, c, ref, rootfs, labels, `CMD ["/bin/sh"]`, "ENV PAGER=less")
}

// withLibraries returns the dynamic executable at path and every shared
// library ldd says it loads, the dynamic loader included.
func withLibraries(path string) ([]string, error) {
	out, err := exec.Command("ldd", path).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w (install Debian's git)", path, err)
	}
	files := []string{path}
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if i := slices.Index(fields, "=>"); i >= 0 && i+1 < len(fields) {
			fields = fields[i+1:]
		}
		if len(fields) > 0 && strings.HasPrefix(fields[0], "/") {
			files = append(files, fields[0])
		}
	}
	return files, nil
}

// Binary creates the image ref holding only the static executable at path,
// as /NAME, which the image runs as an unprivileged user.
func Binary(ctx context.Context, c *client.Client, ref, path string, labels map[string]string) error {
	name := filepath.Base(path)
	rootfs, err := binaryRootfs(path, name)
	if err != nil {
		return err
	}
	return importRootfs(ctx, c, ref, rootfs, labels, fmt.Sprintf(`CMD ["/%s"]`, name), "USER 65534:65534")
}

// Egress creates the image ref of the egress proxy, the static binary at
// path, as /NAME, run as an unprivileged user, with roots (PEM
// certificates) as the system's roots it verifies hosts against, and the
// directory /state owned by that user: a volume mounted there when the
// container is made takes that owner, so the proxy can write its own
// files (its authority's certificate) into it.
func Egress(ctx context.Context, c *client.Client, ref, path string, roots []byte, labels map[string]string) error {
	name := filepath.Base(path)
	bin, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := checkStatic(path, bin); err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	for _, dir := range []string{"etc/", "etc/ssl/", "etc/ssl/certs/"} {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: epoch})
	}
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Size: int64(len(roots)), ModTime: epoch})
	tw.Write(roots)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "state/", Mode: 0o755, Uid: unprivileged, Gid: unprivileged, ModTime: epoch})
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(bin)), ModTime: epoch})
	tw.Write(bin)
	if err := tw.Close(); err != nil {
		return err
	}
	return importRootfs(ctx, c, ref, &buf, labels, fmt.Sprintf(`CMD ["/%s"]`, name), fmt.Sprintf("USER %d:%d", unprivileged, unprivileged))
}

// unprivileged is the user and group the sidecar images run as: nobody.
const unprivileged = 65534

// Tether creates the image ref holding only the static bottle-tether at
// path, as /.bottle/bottle-tether, and the empty directory /.bottle/ca
// where a bottle with secrets mounts its authority: a container made of
// it, never started, fills a bottle's empty volume at /.bottle with them,
// which the agent's container then mounts read-only, whatever the agent's
// own image.
func Tether(ctx context.Context, c *client.Client, ref, path string, labels map[string]string) error {
	rootfs, err := binaryRootfs(path, ".bottle/bottle-tether", ".bottle/ca/")
	if err != nil {
		return err
	}
	return importRootfs(ctx, c, ref, rootfs, labels, `CMD ["/.bottle/bottle-tether"]`)
}

// NetLock creates the image ref of a pod's network lock, the static
// bottle-netlock at path, as /bottle-netlock and its entrypoint, so that a
// pod's init container gives it only its flags (-allow-uid). It runs as
// root: installing the lock takes user 0 with NET_ADMIN, the one
// capability the pod grants it.
func NetLock(ctx context.Context, c *client.Client, ref, path string, labels map[string]string) error {
	rootfs, err := binaryRootfs(path, "bottle-netlock")
	if err != nil {
		return err
	}
	return importRootfs(ctx, c, ref, rootfs, labels, `ENTRYPOINT ["/bottle-netlock"]`, "USER 0:0")
}

// binaryRootfs is a root file system holding the static executable at
// path as name, the directories above it, and the empty directories dirs
// (each ending in "/") beside it.
func binaryRootfs(path, name string, dirs ...string) (io.Reader, error) {
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := checkStatic(path, bin); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if dir := filepath.Dir(name); dir != "." {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: time.Unix(0, 0)})
	}
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(bin)), ModTime: time.Unix(0, 0)})
	tw.Write(bin)
	for _, dir := range dirs {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: time.Unix(0, 0)})
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

func importRootfs(ctx context.Context, c *client.Client, ref string, rootfs io.Reader, labels map[string]string, changes ...string) error {
	changes = append(changes, `ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`)
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		changes = append(changes, fmt.Sprintf("LABEL %q=%q", k, labels[k]))
	}
	res, err := c.ImageImport(ctx, client.ImageImportSource{Source: rootfs, SourceName: "-"}, ref, client.ImageImportOptions{Changes: changes})
	if err != nil {
		return fmt.Errorf("importing %s: %w", ref, err)
	}
	defer res.Close()
	return streamError(ref, res)
}

// streamError finds the error the Engine reports inside a progress stream.
func streamError(ref string, r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		switch err := dec.Decode(&msg); {
		case err == io.EOF:
			return nil
		case err != nil:
			return fmt.Errorf("importing %s: %w", ref, err)
		case msg.Error != "":
			return fmt.Errorf("importing %s: %s", ref, msg.Error)
		}
	}
}

// busyboxRootfs is busybox and its applets, roots when there are any, each
// of host (files of this host, dynamic executables and their libraries) at
// its own path, and each static executable of extra in /usr/local/bin.
func busyboxRootfs(roots []byte, host []string, extra ...string) (io.Reader, error) {
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		return nil, fmt.Errorf("%w (install Debian's busybox-static)", err)
	}
	if err := checkStatic(busyboxPath, bin); err != nil {
		return nil, fmt.Errorf("%w: install Debian's busybox-static", err)
	}
	out, err := exec.Command(busyboxPath, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets: %w", err)
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Unix(0, 0)
	dirs := map[string]bool{}
	var addDir func(name string, mode int64)
	addDir = func(name string, mode int64) {
		if name == "." || dirs[name] {
			return
		}
		addDir(path.Dir(name), 0o755)
		dirs[name] = true
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: now})
	}
	addFile := func(name string, mode int64, data []byte) {
		addDir(path.Dir(name), 0o755)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: now})
		tw.Write(data)
	}
	addFile("bin/busybox", 0o755, bin)
	if roots != nil {
		addFile("etc/ssl/certs/ca-certificates.crt", 0o644, roots)
	}
	for _, path := range host {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		addFile(strings.TrimPrefix(path, "/"), 0o755, data)
	}
	for _, path := range extra {
		bin, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := checkStatic(path, bin); err != nil {
			return nil, err
		}
		addFile("usr/local/bin/"+filepath.Base(path), 0o755, bin)
	}
	addFile("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
	addFile("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n"))
	addDir("tmp", 0o1777)
	for _, d := range []string{"root", "workspace", "proc", "sys", "dev"} {
		addDir(d, 0o755)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "bin/busybox" {
			continue
		}
		addDir(path.Dir(applet), 0o755)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: applet, Linkname: "/bin/busybox", ModTime: now})
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// checkStatic refuses a dynamically linked executable, which could not run
// in an image without its libraries.
func checkStatic(path string, bin []byte) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("%s: not an executable: %w", path, err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is linked dynamically", path)
		}
	}
	return nil
}

// WriteBusybox writes the root file system of the Busybox image, unpacked,
// into dir, replacing what was there: the form of a local image that
// smolvm takes as a directory, where the Engine takes an import.
func WriteBusybox(dir string) error {
	rootfs, err := busyboxRootfs(nil, nil)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // harmless once renamed
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := unpack(rootfs, tmp); err != nil {
		return fmt.Errorf("writing %s: %w", dir, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// unpack writes the directories, files and symlinks of the tar archive r,
// which this package made, into dir.
func unpack(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
			if err == nil {
				err = os.Chmod(target, os.FileMode(h.Mode)&os.ModePerm|modeBits(h.Mode))
			}
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, target)
		case tar.TypeReg:
			var f *os.File
			if f, err = os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(h.Mode)&os.ModePerm); err == nil {
				_, err = io.Copy(f, tr)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
		default:
			err = fmt.Errorf("%s: unexpected entry of type %c", h.Name, h.Typeflag)
		}
		if err != nil {
			return err
		}
	}
}

// modeBits is the sticky bit of a tar mode as a file mode: /tmp's.
func modeBits(mode int64) os.FileMode {
	if mode&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}
