package agentdef

import "strings"

// The characters the names of a definition are made of.
const (
	lower  = "abcdefghijklmnopqrstuvwxyz"
	upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digits = "0123456789"
)

// An agent name becomes part of a slug "NAME-xxxxxx" of at most 63
// characters, which must be a name on every backend: smolvm refuses a
// trailing or doubled "-" (Docker neither), so neither may a name have.
const (
	maxAgentName  = 56
	agentNameRule = `agent names are 1 to 56 characters: a-z and 0-9 in groups joined by single "-" (no leading, trailing or doubled "-")`
)

func validAgentName(s string) bool {
	return isName(s, maxAgentName, lower+digits, lower+digits+"-") && !strings.HasSuffix(s, "-") && !strings.Contains(s, "--")
}

func validSidecarName(s string) bool {
	return isName(s, 32, lower, lower+digits+"-")
}

func validEnvName(s string) bool {
	return isName(s, len(s), upper+lower+"_", upper+lower+digits+"_")
}

// validUser says whether s is user or user:group, each a name or a numeric id.
func validUser(s string) bool {
	const first = upper + lower + digits + "_"
	user, group, hasGroup := strings.Cut(s, ":")
	return isName(user, 32, first, first+".-") && (!hasGroup || isName(group, 32, first, first+".-"))
}

// isName says whether s is 1 to maxLen bytes long, its first byte one of
// first and every other one of rest.
func isName(s string, maxLen int, first, rest string) bool {
	return s != "" && len(s) <= maxLen && strings.IndexByte(first, s[0]) >= 0 && strings.Trim(s[1:], rest) == ""
}
