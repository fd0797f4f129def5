package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/jessevdk/go-flags"
)

// writeMan writes the binary's man page: go-flags' own, with NAME,
// SYNOPSIS, DESCRIPTION and OPTIONS from the same definitions as --help,
// then a section for each heading of the Epilog, which go-flags has no
// place for ("Environment:" becomes ENVIRONMENT, "Examples:" EXAMPLES).
// `make man` runs each binary with the hidden --man.
func (c Command) writeMan(p *flags.Parser, w io.Writer) error {
	// go-flags dates the page by SOURCE_DATE_EPOCH (reproducible builds),
	// else today, and panics on one that is not a number.
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH: not a number of seconds: %q", s)
		}
	}
	var b strings.Builder
	p.WriteManPage(&b)
	for _, s := range epilogSections(c.Epilog) {
		fmt.Fprintf(&b, ".SH %s\n", roffLiteral(strings.ToUpper(s.title)))
		switch s.title {
		case "Environment":
			writeManEntries(&b, s)
		case "Examples":
			writeManExamples(&b, s)
		default:
			writeManProse(&b, s)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// An epilogSection is one heading of a Command's Epilog ("Examples:" at the
// start of a line), the text after its colon, and the lines below it.
type epilogSection struct {
	title string
	first string
	lines []string
}

func epilogSections(epilog string) []epilogSection {
	var sections []epilogSection
	for _, line := range strings.Split(strings.TrimRight(epilog, "\n"), "\n") {
		if title, first, ok := epilogHeading(line); ok {
			sections = append(sections, epilogSection{title: title, first: first})
			continue
		}
		if len(sections) == 0 {
			if strings.TrimSpace(line) == "" {
				continue
			}
			sections = append(sections, epilogSection{title: "Notes"})
		}
		s := &sections[len(sections)-1]
		s.lines = append(s.lines, line)
	}
	return sections
}

// epilogHeading reads a heading: a capital letter, then letters and
// spaces, then a colon and maybe text.
func epilogHeading(line string) (title, first string, ok bool) {
	title, first, ok = strings.Cut(line, ":")
	if !ok || title == "" || title[0] < 'A' || title[0] > 'Z' {
		return "", "", false
	}
	for _, c := range []byte(title) {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && c != ' ' {
			return "", "", false
		}
	}
	return title, strings.TrimLeft(first, " \t\n\f\r"), true
}

// writeManEntries writes "  NAME   what it is" lines, each continued by
// lines indented further, as tagged paragraphs. Several names are joined
// by commas ("  DOCKER_HOST, DOCKER_API_VERSION"), a line of them maybe
// continued on the next.
func writeManEntries(b *strings.Builder, s epilogSection) {
	var tag, text string
	flush := func() {
		if tag != "" {
			fmt.Fprintf(b, ".TP\n\\fB%s\\fR\n%s\n", roffLiteral(tag), roffProse(text))
		}
		tag, text = "", ""
	}
	for _, line := range s.lines {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			continue
		case len(line)-len(strings.TrimLeft(line, " ")) <= 2:
			// The name is the first word, or words that a comma joins,
			// also across the end of a line.
			words := strings.Fields(trimmed)
			if strings.HasSuffix(tag, ",") && text == "" {
				words = append(strings.Fields(tag), words...)
			} else {
				flush()
			}
			n := 1
			for n < len(words) && strings.HasSuffix(words[n-1], ",") {
				n++
			}
			tag, text = strings.Join(words[:n], " "), strings.Join(words[n:], " ")
		default:
			text = strings.TrimSpace(text + " " + trimmed)
		}
	}
	flush()
}

// writeManExamples writes the lines as they are, indented, without filling.
func writeManExamples(b *strings.Builder, s epilogSection) {
	b.WriteString(".PP\n.RS 4\n.nf\n")
	for _, line := range s.lines {
		if line = strings.TrimPrefix(line, "  "); strings.TrimSpace(line) == "" {
			b.WriteString(".sp\n")
			continue
		}
		b.WriteString(roffLiteral(line) + "\n")
	}
	b.WriteString(".fi\n.RE\n")
}

// writeManProse writes the text after the heading and each paragraph below
// it (lines up to a blank one) as paragraphs to be filled.
func writeManProse(b *strings.Builder, s epilogSection) {
	var paragraphs []string
	if s.first != "" {
		paragraphs = append(paragraphs, s.first)
	}
	current := ""
	for _, line := range append(s.lines, "") {
		if line = strings.TrimSpace(line); line != "" {
			current = strings.TrimSpace(current + " " + line)
		} else if current != "" {
			paragraphs = append(paragraphs, current)
			current = ""
		}
	}
	for i, p := range paragraphs {
		if i > 0 {
			b.WriteString(".PP\n")
		}
		b.WriteString(roffProse(p) + "\n")
	}
}

// roffLiteral escapes text that is to be shown as it is, such as commands:
// a backslash prints as one, every hyphen is a minus sign (so that copied
// options work), and a line cannot start a request.
func roffLiteral(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	return guardLine(s)
}

// roffProse escapes running text, one paragraph on one line. The hyphens
// that start an option or stand alone as -- (at the start, or after a
// space, a bracket, a bar or a quote) are minus signs; those within words
// stay hyphens.
func roffProse(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '-' && (i == 0 || strings.IndexByte(" \t\n\f\r([|\"'`", s[i-1]) >= 0) {
			b.WriteString(`\-`)
			if i+1 < len(s) && s[i+1] == '-' {
				b.WriteString(`\-`)
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return guardLine(b.String())
}

// guardLine keeps a line of text from being read as a request.
func guardLine(s string) string {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		return `\&` + s
	}
	return s
}
