package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestMan(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1795867200") // noon UTC: go-flags dates the page in local time
	cmd := Command{
		Name:        "bottle-x",
		Short:       "does x to NAME.json",
		Usage:       "[--json] NAME...\n  bottle-x --list",
		Description: "Does x to NAME.json. Then more.",
		Epilog: `Environment:
  BOTTLE_X          the x (default: -)
  DOCKER_HOST, DOCKER_CERT_PATH
                    the Engine
  DOCKER_CONTEXT, DOCKER_CONFIG,
  DOCKER_TLS_VERIFY
                    its context
  BOTTLE_LONG_NAME_X a name wider
                    than its column

Backends: a, b
  a is usable when
  it answers.

Examples:
  bottle-x --json a | jq -r '.x'
  .hidden-looking line
`,
	}
	var opts struct {
		JSON bool    `short:"j" long:"json" description:"print JSON lines (see --list)"`
		List *string `long:"list" value-name:"WHAT" description:"list \\ them"`
	}
	var stdout bytes.Buffer
	if _, err := cmd.parse(&opts, []string{"--man"}, &stdout); err != errHelp {
		t.Fatalf("--man: %v", err)
	}
	page := stdout.String()
	for _, want := range []string{
		// go-flags' own page, from the parser's definitions,
		".TH bottle-x 1 \"28 November 2026\"\n",
		"\n.SH NAME\nbottle-x \\- does x to NAME.json\n",
		"\n.SH SYNOPSIS\n\\fBbottle-x\\fP [--json] NAME...\n  bottle-x --list\n",
		"\n.SH DESCRIPTION\nDoes x to NAME.json. Then more.\n",
		"\n.SH OPTIONS\n.SS Options\n",
		`\fB\-j\fR, \fB\-\-json\fR`,
		`\fB\-\-list\fR \fIWHAT\fR`,
		`\fB\-\-version\fR`,
		"\nprint JSON lines (see --list)\n",
		// then the Epilog's sections.
		"\n.SH ENVIRONMENT\n.TP\n\\fBBOTTLE_X\\fR\nthe x (default: \\-)\n",
		"\n.TP\n\\fBDOCKER_HOST, DOCKER_CERT_PATH\\fR\nthe Engine\n",
		"\n.TP\n\\fBDOCKER_CONTEXT, DOCKER_CONFIG, DOCKER_TLS_VERIFY\\fR\nits context\n",
		"\n.TP\n\\fBBOTTLE_LONG_NAME_X\\fR\na name wider than its column\n",
		"\n.SH BACKENDS\na, b\n.PP\na is usable when it answers.\n",
		"\n.SH EXAMPLES\n.PP\n.RS 4\n.nf\nbottle\\-x \\-\\-json a | jq \\-r '.x'\n\\&.hidden\\-looking line\n.fi\n.RE\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the man page lacks %q:\n%s", want, page)
		}
	}
	for _, hidden := range []string{`\-\-man`, `\-\-completion`} {
		if strings.Contains(page, hidden) {
			t.Errorf("the man page shows the hidden %s", hidden)
		}
	}

	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, err := cmd.parse(&opts, []string{"--man"}, &stdout); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("a bad SOURCE_DATE_EPOCH: %v", err)
	}
}

func TestRoffProse(t *testing.T) {
	for in, want := range map[string]string{
		"a non-empty line, after --; use -v or --list=x": `a non-empty line, after \-\-; use \-v or \-\-list=x`,
		`.starts with a dot \ and a backslash`:           `\&.starts with a dot \e and a backslash`,
		"(--json) 'quoted -x' [-v]":                      `(\-\-json) 'quoted \-x' [\-v]`,
	} {
		if got := roffProse(in); got != want {
			t.Errorf("roffProse(%q) = %q, want %q", in, got, want)
		}
	}
}
