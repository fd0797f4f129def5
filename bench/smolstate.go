package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/bottle-dev/bottle/pkg/labels"
)

// mixedFixture is the shared `smolvm machine ls --json` fixture: a running
// agent, a machine the user made without bottle, and a stopped agent. The
// large listing is made of copies of its three machines, so that it has
// exactly the shape smolvm prints.
const mixedFixture = "pkg/backend/smolmachines/testdata/ls-mixed.json"

// smolListing returns a `machine ls --json` array of n machines: of every
// ten, eight running agents, one machine of the user's own and one stopped
// agent. Agents carry the extra labels (as bottle-start --label puts
// them). It also returns how many of them bottle-ls should list.
func smolListing(n int, extra map[string]string) ([]byte, int, error) {
	fixture, err := os.ReadFile(mixedFixture)
	if err != nil {
		return nil, 0, err
	}
	var templates []json.RawMessage
	if err := json.Unmarshal(fixture, &templates); err != nil || len(templates) < 3 {
		return nil, 0, fmt.Errorf("%s: want an array of three machines (%v)", mixedFixture, err)
	}
	var buf bytes.Buffer
	buf.WriteString("[\n")
	running := 0
	for i := range n {
		var m []byte
		switch k := i % 10; {
		case k < 8: // a running agent
			m = agentMachine(templates[0], fmt.Sprintf("reviewer-%06x", i), 1795843200+int64(i), extra)
			running++
		case k == 8: // the user's own machine: no bottle labels
			m = setField(templates[1], "name", strconv.Quote(fmt.Sprintf("dev-%d", i)))
		default: // a stopped agent
			m = agentMachine(templates[2], fmt.Sprintf("writer-%06x", i), 1795839600+int64(i), extra)
		}
		if i > 0 {
			buf.WriteString(",\n")
		}
		buf.Write(m)
	}
	buf.WriteString("\n]\n")
	return buf.Bytes(), running, nil
}

func agentMachine(template json.RawMessage, slug string, created int64, extra map[string]string) []byte {
	marks := map[string]string{}
	if err := json.Unmarshal([]byte(gjson.GetBytes(template, "labels").Raw), &marks); err != nil {
		panic(err) // the fixture's labels are an object of strings
	}
	marks[labels.Slug] = slug
	for k, v := range extra {
		marks[k] = v
	}
	raw, _ := json.Marshal(marks) // sorted keys, as in the fixture
	m := setField(template, "name", strconv.Quote(slug))
	m = setField(m, "created_at", strconv.FormatInt(created, 10))
	return setField(m, "labels", string(raw))
}

// setField returns object m with key's value replaced by the JSON value val;
// every other byte stays as it is.
func setField(m []byte, key, val string) []byte {
	old := gjson.GetBytes(m, key)
	if !old.Exists() {
		panic("fixture without " + key)
	}
	return slices.Concat(m[:old.Index], []byte(val), m[old.Index+len(old.Raw):])
}
