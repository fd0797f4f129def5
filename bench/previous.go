package main

import (
	"os"
	"strings"
)

// previousFigures is what the report about to be replaced said of start-up
// and listing, so that the new one shows what a change did to them: its
// first paragraph after the title (when and on what it was measured), its
// start-up and init lines, and its table of listings. "" when there is no
// report yet, or none of these are in it.
func previousFigures(path string) string {
	old, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var keep []string
	inTable := false
	for _, line := range strings.Split(string(old), "\n") {
		switch {
		case strings.HasPrefix(line, "Measured by "):
			keep = append(keep, line, "")
		case strings.HasPrefix(line, "## Listing at each number of agents"):
			inTable = true
		case inTable && strings.HasPrefix(line, "|"):
			keep = append(keep, line)
		case inTable && line != "":
			inTable = false
			keep = append(keep, "")
		case strings.HasPrefix(line, "- Start-up without the Engine"), strings.HasPrefix(line, "- `bottle-ls`'s package `init`"):
			keep = append(keep, line)
		}
	}
	if len(keep) < 3 {
		return ""
	}
	return strings.Join(keep, "\n") + "\n"
}
