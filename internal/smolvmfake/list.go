package smolvmfake

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"text/tabwriter"

	"github.com/tidwall/gjson"
)

// list prints the state file itself, so that whatever a test put there, even
// content that is not JSON, reaches the backend as smolvm's output.
func list(c *call) int {
	b, err := os.ReadFile(c.state)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return c.fail(err)
	}
	if !c.has("json") {
		ms, err := load(c.state)
		if err != nil {
			return c.fail(err)
		}
		w := tabwriter.NewWriter(c.stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tSTATE")
		for _, m := range ms {
			fmt.Fprintf(w, "%s\t%s\n", gjson.GetBytes(m, "name"), gjson.GetBytes(m, "state"))
		}
		w.Flush()
		return 0
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("[]")
	}
	if err := writeMachines(c.stdout, b, c.version); err != nil {
		return c.fail(err)
	}
	return 0
}

// status prints one machine, as one entry of `machine ls --json` or, without
// --json, as a line of its table.
func status(c *call) int {
	ms, err := load(c.state)
	if err != nil {
		return c.fail(err)
	}
	name := c.name()
	i := find(ms, name)
	if i < 0 {
		return c.fail(fmt.Errorf("config operation failed: machine status: machine '%s' not found", name))
	}
	if !c.has("json") {
		fmt.Fprintf(c.stdout, "%s\t%s\n", name, gjson.GetBytes(ms[i], "state"))
		return 0
	}
	if err := writeMachines(c.stdout, ms[i], c.version); err != nil {
		return c.fail(err)
	}
	return 0
}
