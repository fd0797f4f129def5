package bottle_test

import "github.com/rogpeppe/go-internal/testscript"

// registryCmds are the scripts' commands for images pulled from a registry.
var registryCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){}
