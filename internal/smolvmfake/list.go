package smolvmfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
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

// egressEvents prints the refused connections of a machine: the newest
// --limit of stand_in.egress_denials, oldest first, in smolvm's field
// order. It never checks that the machine exists: an unknown one has none.
func egressEvents(c *call) int {
	limit := 200
	if c.has("limit") {
		n, err := strconv.ParseUint(c.flag("limit"), 10, 32)
		if err != nil {
			return c.usage("invalid value '%s' for '--limit <N>': %v", c.flag("limit"), errors.Unwrap(err))
		}
		limit = int(n)
	}
	ms, err := load(c.state)
	if err != nil {
		return c.fail(err)
	}
	events := []json.RawMessage{}
	if i := find(ms, c.name()); i >= 0 {
		if d := gjson.GetBytes(ms[i], "stand_in.egress_denials"); d.IsArray() {
			for _, e := range d.Array() {
				events = append(events, json.RawMessage(e.Raw))
			}
		}
	}
	events = events[max(0, len(events)-limit):]
	if !c.has("json") {
		if len(events) == 0 {
			fmt.Fprintf(c.stdout, "No egress denials recorded for '%s'.\n", c.name())
			return 0
		}
		w := tabwriter.NewWriter(c.stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(w, "TIMESTAMP\tOP\tDESTINATION")
		for _, e := range events {
			fmt.Fprintf(w, "%s\t%s\t%s\n", gjson.GetBytes(e, "timestamp"), gjson.GetBytes(e, "operation"), gjson.GetBytes(e, "dest"))
		}
		w.Flush()
		return 0
	}
	b, err := json.MarshalIndent(events, "", "  ")
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "%s\n", b)
	return 0
}
