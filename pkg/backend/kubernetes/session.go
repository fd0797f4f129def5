package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/bottle-dev/bottle/pkg/agent"
	"github.com/bottle-dev/bottle/pkg/backend"
)

// Exec runs s.Command in the agent's container through the API's exec
// subresource, and returns its exit status.
func (b *Backend) Exec(ctx context.Context, a agent.Agent, s backend.Session) (int, error) {
	h, c, err := b.pod(a)
	if err != nil {
		return 0, err
	}
	command := s.Command
	if len(s.Env) > 0 {
		command = append(append([]string{"env"}, s.Env...), s.Command...)
	}
	req := c.rest.Post().Namespace(h.namespace).Resource("pods").Name(h.pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: agentContainer,
			Command:   command,
			Stdin:     s.In != nil,
			Stdout:    true,
			Stderr:    !s.TTY,
			TTY:       s.TTY,
		}, c.params)
	exec, err := remotecommand.NewSPDYExecutor(c.config, "POST", req.URL())
	if err != nil {
		return 0, err
	}
	sizes := newSizes(s, false)
	defer sizes.close()
	err = exec.StreamWithContext(ctx, streamOptions(s, s.In, sizes))
	var exit utilexec.CodeExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitStatus(), nil
	case err != nil:
		return 0, fmt.Errorf("exec in %s: %w", h.pod, err)
	}
	return 0, nil
}

// Join attaches s to the agent's program through the API's attach
// subresource, until the program ends (its status, once the cluster has
// recorded it) or s.In ends (ErrDetached, the program left running).
func (b *Backend) Join(ctx context.Context, a agent.Agent, s backend.Session) (int, error) {
	h, c, err := b.pod(a)
	if err != nil {
		return 0, err
	}
	req := c.rest.Post().Namespace(h.namespace).Resource("pods").Name(h.pod).SubResource("attach").
		VersionedParams(&corev1.PodAttachOptions{
			Container: agentContainer,
			Stdin:     true,
			Stdout:    true,
			// A terminal has one stream; the runtime refuses both.
			Stderr: false,
			TTY:    true,
		}, c.params)
	attach, err := remotecommand.NewSPDYExecutor(c.config, "POST", req.URL())
	if err != nil {
		return 0, err
	}
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := &endNotifier{r: s.In, end: cancel}
	// One line less, then the size: the program redraws for the one who
	// joins, as on docker.
	sizes := newSizes(s, true)
	defer sizes.close()
	err = attach.StreamWithContext(streamCtx, streamOptions(s, in, sizes))
	switch {
	case in.ended():
		return 0, backend.ErrDetached
	case ctx.Err() != nil:
		return 0, ctx.Err()
	case err != nil:
		return 0, fmt.Errorf("attaching to %s: %w", h.pod, err)
	}
	return c.exitStatus(ctx, h)
}

// exitStatus waits, a little, for the cluster to record how the agent's
// program ended.
func (c *conn) exitStatus(ctx context.Context, h handle) (int, error) {
	status := 0
	err := c.poll(ctx, h, 10*time.Second, func(pod *corev1.Pod, err error) (bool, error) {
		if err != nil {
			return false, err
		}
		for _, s := range pod.Status.ContainerStatuses {
			if t := s.State.Terminated; s.Name == agentContainer && t != nil {
				status = int(t.ExitCode)
				return true, nil
			}
		}
		return false, nil
	})
	if errors.Is(err, errPollBound) {
		return 0, errors.New("the session ended, but the cluster says nothing of how the program did")
	}
	return status, err
}

func (b *Backend) pod(a agent.Agent) (handle, *conn, error) {
	h, err := handleOf(a)
	if err != nil {
		return handle{}, nil, err
	}
	c, err := b.connect()
	return h, c, err
}

func streamOptions(s backend.Session, in io.Reader, sizes *sizes) remotecommand.StreamOptions {
	o := remotecommand.StreamOptions{Stdin: in, Stdout: s.Out, Tty: s.TTY}
	if !s.TTY {
		o.Stderr = s.Err
	}
	if s.TTY {
		o.TerminalSizeQueue = sizes
	}
	return o
}

// endNotifier is the user's input, which says when it has ended: the
// detach keys, or the terminal gone.
type endNotifier struct {
	r    io.Reader
	end  func()
	done atomic.Bool
}

func (e *endNotifier) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !e.done.Swap(true) {
		e.end()
	}
	return n, err
}

func (e *endNotifier) ended() bool { return e.done.Load() }

// sizes is the terminal's sizes as remotecommand asks for them: the first,
// then each resize, until closed.
type sizes struct {
	next chan remotecommand.TerminalSize
	stop chan struct{}
}

func newSizes(s backend.Session, nudge bool) *sizes {
	q := &sizes{next: make(chan remotecommand.TerminalSize), stop: make(chan struct{})}
	if !s.TTY {
		return q
	}
	size := func(sz backend.Size) remotecommand.TerminalSize {
		return remotecommand.TerminalSize{Width: uint16(sz.Width), Height: uint16(sz.Height)}
	}
	go func() {
		var first []remotecommand.TerminalSize
		if nudge && s.Size.Height > 1 {
			first = append(first, size(backend.Size{Width: s.Size.Width, Height: s.Size.Height - 1}))
		}
		first = append(first, size(s.Size))
		for _, sz := range first {
			select {
			case q.next <- sz:
			case <-q.stop:
				return
			}
		}
		for {
			select {
			case sz, ok := <-s.Resize:
				if !ok {
					return
				}
				select {
				case q.next <- size(sz):
				case <-q.stop:
					return
				}
			case <-q.stop:
				return
			}
		}
	}()
	return q
}

// Next is the next size, or nil once the session is over.
func (q *sizes) Next() *remotecommand.TerminalSize {
	select {
	case sz := <-q.next:
		return &sz
	case <-q.stop:
		return nil
	}
}

func (q *sizes) close() { close(q.stop) }
