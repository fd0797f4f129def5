// Command images imports the images of the example agents into the Docker
// Engine that DOCKER_HOST names: `make images` runs it with the path of a
// static bottle-egress.
package main

import (
	"context"
	"fmt"
	"os"

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
	labels := map[string]string{"dev.bottle.example": "true"}
	c, err := client.New(client.FromEnv)
	if err == nil {
		err = scratchimage.Busybox(context.Background(), c, demo, labels)
	}
	if err == nil {
		err = scratchimage.Binary(context.Background(), c, egress, os.Args[1], labels)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
	fmt.Println(demo)
	fmt.Println(egress)
}
