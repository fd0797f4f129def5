// Command images makes the images of the example agents and bottle's own:
// it imports them into the Docker Engine that DOCKER_HOST names, and writes
// the agents' image as smolvm takes a local one, an unpacked root file
// system, into images/bottle-demo in the directory it is given, which holds
// static builds of bottle-egress, bottle-tether and bottle-netlock. `make images` runs it
// with bin/, so that the examples' "smolmachines": {"image":
// "../../bin/images/bottle-demo"} names it.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/internal/scratchimage"
)

// The images of the example agents: busybox and the host's git for the
// agents (git for bottle-start --branch) and the web sidecar, bottle-egress
// with the host's roots for the egress sidecar; bottle-tether, which every
// docker bottle takes its /.bottle from; and bottle-netlock, which locks a
// kubernetes bottle's network.
const (
	demo   = "bottle-demo:latest"
	egress = "bottle-egress:latest"
	tether = "bottle-tether:latest"
	// netlock is the init container of every kubernetes bottle: a cluster
	// pulls it from a registry you push it to (BOTTLE_NETLOCK_IMAGE).
	netlock = "bottle-netlock:latest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: images DIRECTORY-OF-STATIC-BOTTLE-EGRESS-AND-BOTTLE-TETHER")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(bin string) error {
	// The root file system first: smolvm needs no Docker Engine.
	images := filepath.Join(bin, "images")
	if err := os.MkdirAll(images, 0o755); err != nil {
		return err
	}
	rootfs := filepath.Join(images, "bottle-demo")
	if err := scratchimage.WriteBusybox(rootfs); err != nil {
		return err
	}
	fmt.Println(rootfs)
	labels := map[string]string{"dev.bottle.example": "true"}
	c, err := client.New(client.FromEnv)
	if err == nil {
		err = scratchimage.BusyboxGit(context.Background(), c, demo, labels, nil)
	}
	if err == nil {
		err = egressImage(c, filepath.Join(bin, "bottle-egress"), labels)
	}
	if err == nil {
		err = scratchimage.Tether(context.Background(), c, tether, filepath.Join(bin, "bottle-tether"), labels)
	}
	if err == nil {
		err = scratchimage.NetLock(context.Background(), c, netlock, filepath.Join(bin, "bottle-netlock"), labels)
	}
	if err != nil {
		return err
	}
	for _, image := range []string{demo, egress, tether, netlock} {
		fmt.Println(image)
	}
	return nil
}

// hostRoots is where Debian's ca-certificates keeps the roots the egress
// proxy verifies the hosts it opens TLS to against, for secrets.
const hostRoots = "/etc/ssl/certs/ca-certificates.crt"

func egressImage(c *client.Client, binary string, labels map[string]string) error {
	roots, err := os.ReadFile(hostRoots)
	if err != nil {
		return fmt.Errorf("%w (install Debian's ca-certificates)", err)
	}
	return scratchimage.Egress(context.Background(), c, egress, binary, roots, labels)
}
