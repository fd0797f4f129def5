// Command images makes the images of the example agents: it imports them
// into the Docker Engine that DOCKER_HOST names, and writes the agents'
// image as smolvm takes a local one, an unpacked root file system, into
// images/bottle-demo beside the binary it is given. `make images` runs it
// with the path of a static bottle-egress in bin/, so that the examples'
// "smolmachines": {"image": "../../bin/images/bottle-demo"} names it.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/internal/scratchimage"
)

// The images of the example agents: busybox for the agents and the web
// sidecar, bottle-egress alone for the egress sidecar.
const (
	demo   = "bottle-demo:latest"
	egress = "bottle-egress:latest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: images PATH-OF-STATIC-BOTTLE-EGRESS")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(egressBinary string) error {
	// The root file system first: smolvm needs no Docker Engine.
	images := filepath.Join(filepath.Dir(egressBinary), "images")
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
		err = scratchimage.Busybox(context.Background(), c, demo, labels)
	}
	if err == nil {
		err = scratchimage.Binary(context.Background(), c, egress, egressBinary, labels)
	}
	if err != nil {
		return err
	}
	fmt.Println(demo)
	fmt.Println(egress)
	return nil
}
