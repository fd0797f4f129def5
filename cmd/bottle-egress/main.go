// Command bottle-egress is the allowlist forward proxy that runs in a
// bottle's egress sidecar: see `bottle-egress -h` and package egress. It
// links nothing but the standard library and bottle's own packages, so it
// builds static and runs alone in a FROM-scratch image.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) }
