package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bottle-dev/bottle/pkg/agent"
)

// stopTimeout bounds how long a stop waits for the pod to be gone.
const stopTimeout = time.Minute

// Stop deletes the agent's pod and waits until it is gone, with what it
// owns (its NetworkPolicy): the deletion is in the foreground, so that the
// pod goes last.
func (b *Backend) Stop(ctx context.Context, a agent.Agent) error {
	h, err := handleOf(a)
	if err != nil {
		return err
	}
	c, err := b.connect()
	if err != nil {
		return err
	}
	return c.deletePod(ctx, h)
}

// deletePod deletes the pod in the foreground and waits until it is gone.
func (c *conn) deletePod(ctx context.Context, h handle) error {
	grace := int64(1)
	foreground := metav1.DeletePropagationForeground
	err := c.rest.Delete().Namespace(h.namespace).Resource("pods").Name(h.pod).
		Body(&metav1.DeleteOptions{GracePeriodSeconds: &grace, PropagationPolicy: &foreground}).Do(ctx).Error()
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting the pod %s: %w", h.pod, err)
	}
	err = c.poll(ctx, h, stopTimeout, func(_ *corev1.Pod, err error) (bool, error) {
		return apierrors.IsNotFound(err), nil
	})
	if errors.Is(err, errPollBound) {
		return fmt.Errorf("the pod %s was not gone within %s", h.pod, stopTimeout)
	}
	return err
}

// pollInterval is how often a wait on a pod asks for it again.
const pollInterval = 200 * time.Millisecond

// errPollBound is a wait on a pod that reached its bound.
var errPollBound = errors.New("the bound of the wait")

// poll gets h's pod every pollInterval, for at most bound, until done,
// given the pod or the error of getting it, says it is done or fails. It
// returns errPollBound when the bound comes first, and ctx's error when
// ctx ends.
func (c *conn) poll(ctx context.Context, h handle, bound time.Duration, done func(*corev1.Pod, error) (bool, error)) error {
	ctx, cancel := context.WithTimeoutCause(ctx, bound, errPollBound)
	defer cancel()
	for {
		var pod corev1.Pod
		err := c.rest.Get().Namespace(h.namespace).Resource("pods").Name(h.pod).Do(ctx).Into(&pod)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if ok, err := done(&pod, err); ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(pollInterval):
		}
	}
}
