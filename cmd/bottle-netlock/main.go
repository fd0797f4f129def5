// Command bottle-netlock is the init container of a bottle's pod on
// Kubernetes: it locks the pod's network namespace so that only the egress
// proxy's user sends anything off the pod, then exits; see
// `bottle-netlock -h` and package netlock. It links nothing but the
// standard library, nftables' netlink and bottle's own packages, so it
// builds static and runs alone in a FROM-scratch image.
package main

import (
	"os"

	"github.com/bottle-dev/bottle/internal/netlock"
)

func main() { os.Exit(netlock.Run(os.Args[1:], os.Stdout, os.Stderr)) }
