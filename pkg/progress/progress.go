// Package progress carries a way to report the steps of long work (making
// networks, starting sidecars) through a context, from the command that
// knows whether a person is watching to the backend that knows the steps.
package progress

import (
	"context"
	"fmt"
)

type key struct{}

// To returns a context whose steps are reported to report.
func To(ctx context.Context, report func(step string)) context.Context {
	return context.WithValue(ctx, key{}, report)
}

// Say reports a step, if anyone listens.
func Say(ctx context.Context, format string, args ...any) {
	if report, ok := ctx.Value(key{}).(func(string)); ok {
		report(fmt.Sprintf(format, args...))
	}
}
