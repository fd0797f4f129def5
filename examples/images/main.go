// Command images imports the images of the example agents into the Docker
// Engine that DOCKER_HOST names: `make images` runs it.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/internal/scratchimage"
)

// Demo is the image of every example agent and sidecar: busybox, from scratch.
const Demo = "bottle-demo:latest"

func main() {
	c, err := client.New(client.FromEnv)
	if err == nil {
		err = scratchimage.Import(context.Background(), c, Demo, map[string]string{"dev.bottle.example": "true"})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
	fmt.Println(Demo)
}
