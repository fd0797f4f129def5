package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/client"
)

// A bottle's own files in its containers (the egress proxy's authority
// and allowlist, the agent's roots) go through the Engine's archive
// endpoint, which works on an Engine on another host and, for a volume,
// on a container whose root is read-only.

// maxFile bounds what is read of a file: a bundle of roots is the
// largest there is.
const maxFile = 4 << 20

// symlink is readContainerFile's answer for a symbolic link: its target.
type symlink string

func (l symlink) Error() string { return "a symbolic link to " + string(l) }

// readContainerFile reads the regular file at p in the container through the
// Engine's archive endpoint.
func readContainerFile(ctx context.Context, c *client.Client, id, p string) ([]byte, error) {
	res, err := c.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: p})
	if err != nil {
		return nil, err
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	h, err := tr.Next()
	switch {
	case err != nil:
		return nil, err
	case h.Typeflag == tar.TypeSymlink:
		return nil, symlink(h.Linkname)
	case h.Typeflag != tar.TypeReg:
		return nil, fmt.Errorf("%s is not a file", p)
	case h.Size > maxFile:
		return nil, fmt.Errorf("%s is larger than %d bytes", p, maxFile)
	}
	return io.ReadAll(tr)
}

// writeContainerFile writes content as the file name in the directory dir of the
// container, readable by all and owned by uid.
func writeContainerFile(ctx context.Context, c *client.Client, id, dir, name string, content []byte, uid int) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Uid: uid, Gid: uid, Size: int64(len(content)), ModTime: time.Now()})
	tw.Write(content)
	if err := tw.Close(); err != nil {
		return err
	}
	_, err := c.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: dir, Content: &buf})
	return err
}
