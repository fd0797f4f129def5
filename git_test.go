package bottle_test

import "github.com/rogpeppe/go-internal/testscript"

// gitCmds are the scripts' commands for agents that work on a branch.
var gitCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){}
