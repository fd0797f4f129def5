package smolmachines

import (
	"context"
	"errors"
	"time"

	"github.com/bottle-dev/bottle/pkg/labels"
)

// RemoveOrphans stops and deletes the toolkit's machines that are neither
// running nor unreachable (a start killed before its machine ran, whose VM
// may run on; a machine stopped by hand) and were created more than
// olderThan ago. It returns their slugs. A machine whose VM does not
// answer may only be busy: bottle-stop removes it by its name. Its one
// listing is the usability check, as Enumerate's is.
func (b *Backend) RemoveOrphans(ctx context.Context, user map[string]string, olderThan time.Duration) ([]string, error) {
	machines, err := b.list(ctx)
	if err != nil {
		return nil, err
	}
	cutoff := time.Now().Add(-olderThan)
	var removed []string
	var errs []error
	for _, m := range machines {
		if m.State == "running" || m.State == "unreachable" || m.Name != m.Labels[labels.Slug] || !labels.Carries(m.Labels, user) || m.CreatedAt.After(cutoff) {
			continue
		}
		if err := b.remove(ctx, m.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, m.Name)
	}
	return removed, errors.Join(errs...)
}
