package cli

import "github.com/bottle-dev/bottle/pkg/labels"

// LabelScope is the --label option, BOTTLE_LABELS its default, of every
// binary that takes the user's own labels: the agents it lists, stops or
// attaches to are those carrying them all, and bottle-start puts them on
// everything the agent is made of. Embedded in a binary's options it joins
// their group, Command.LabelHelp describes it, and parsing checks it.
type LabelScope struct {
	Labels map[string]string `long:"label" env:"BOTTLE_LABELS" env-delim:"," key-value-delimiter:"=" value-name:"KEY=VALUE"`
}

const labelOption = "label"

// labelScoped are the options of a binary that embed a LabelScope.
type labelScoped interface{ labelScope() *LabelScope }

func (s *LabelScope) labelScope() *LabelScope { return s }

// check rejects labels as labels.CheckUser does, with a usage error. An
// empty item, as an empty or trailing-comma BOTTLE_LABELS gives, is
// dropped first.
func (s *LabelScope) check() error {
	if v, ok := s.Labels[""]; ok && v == "" {
		delete(s.Labels, "")
	}
	if err := labels.CheckUser(s.Labels); err != nil {
		return Usage(err)
	}
	return nil
}
