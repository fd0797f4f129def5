package smolmachines

import (
	"context"
	"errors"
	"time"
)

// RemoveOrphans deletes the toolkit's machines that are not running (a
// start killed between create and start, a machine stopped by hand) and
// were created more than olderThan ago. It returns their slugs.
func (b *Backend) RemoveOrphans(ctx context.Context, labels map[string]string, olderThan time.Duration) ([]string, error) {
	machines, err := list(ctx)
	if err != nil {
		return nil, err
	}
	cutoff := time.Now().Add(-olderThan)
	var removed []string
	var errs []error
	for _, m := range machines {
		if m.State == "running" || m.Name != m.Labels[labelSlug] || !carries(m.Labels, labels) || m.CreatedAt.After(cutoff) {
			continue
		}
		if _, err := smolvm(ctx, nil, "machine", "delete", "--name", m.Name, "-f"); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, m.Name)
	}
	return removed, errors.Join(errs...)
}
