package smolmachines

import (
	"context"
	"errors"
	"time"

	"github.com/bottle-dev/bottle/pkg/labels"
)

// RemoveOrphans deletes the toolkit's machines that are not running (a
// start killed between create and start, a machine stopped by hand) and
// were created more than olderThan ago. It returns their slugs. Its one
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
		if m.State == "running" || m.Name != m.Labels[labels.Slug] || !labels.Carries(m.Labels, user) || m.CreatedAt.After(cutoff) {
			continue
		}
		if _, err := b.smolvm(ctx, nil, "machine", "delete", "--name", m.Name, "-f"); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, m.Name)
	}
	return removed, errors.Join(errs...)
}
