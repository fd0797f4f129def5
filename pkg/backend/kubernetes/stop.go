package kubernetes

import (
	"context"
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
	return c.deletePodIn(ctx, h.namespace, h.pod)
}

func (c *conn) deletePod(ctx context.Context, name string) error {
	return c.deletePodIn(ctx, c.namespace, name)
}

func (c *conn) deletePodIn(ctx context.Context, namespace, name string) error {
	grace := int64(1)
	foreground := metav1.DeletePropagationForeground
	err := c.rest.Delete().Namespace(namespace).Resource("pods").Name(name).
		Body(&metav1.DeleteOptions{GracePeriodSeconds: &grace, PropagationPolicy: &foreground}).Do(ctx).Error()
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting the pod %s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	for {
		var pod corev1.Pod
		err := c.rest.Get().Namespace(namespace).Resource("pods").Name(name).Do(ctx).Into(&pod)
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("the pod %s was not gone within %s", name, stopTimeout)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}
