package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"github.com/bottle-dev/bottle/pkg/agentdef"
	"github.com/bottle-dev/bottle/pkg/progress"
)

// DefaultPullTimeout is how long a pull may go without a word of progress
// from the Engine before bottle takes its registry for one that does not
// answer. The Engine itself waits for ever on a registry that took the
// connection and then went quiet.
const DefaultPullTimeout = 60 * time.Second

// EnvPullTimeout sets another bound than DefaultPullTimeout, as a Go
// duration ("2m"), for a slow link.
const EnvPullTimeout = "BOTTLE_PULL_TIMEOUT"

// errStalled is why a pull was cancelled when its registry went quiet.
var errStalled = errors.New("stalled")

// images makes sure every image the bottle is made of is on the Engine
// before anything of it is made, so that a pull that fails, or is
// interrupted, leaves nothing behind: the agent's and each sidecar's are
// pulled as def.Pull says, all at once, each distinct image once. The
// first failure cancels the other pulls. bottle-tether's image is bottle's
// own, made by make images, and never pulled: a registry would be asked
// for an image of that name that anyone could have put there.
func (b *Backend) images(ctx context.Context, c *client.Client, def *agentdef.Definition) error {
	timeout := DefaultPullTimeout
	if s := b.cfg.PullTimeout; s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return fmt.Errorf("%s=%s is not a duration such as 90s or 2m", EnvPullTimeout, s)
		}
		timeout = d
	}
	p := &puller{c: c, how: cmp.Or(def.Pull, agentdef.PullMissing), timeout: timeout, creds: &credentials{dir: b.cfg.ConfigDir}}
	type image struct{ what, ref string }
	var list []image
	seen := map[string]bool{}
	add := func(what, ref string) {
		if !seen[ref] {
			seen[ref] = true
			list = append(list, image{what, ref})
		}
	}
	add("agent", def.Image)
	for _, s := range def.Sidecars {
		add("sidecar "+s.Name, s.Image)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil && ctx.Err() == nil {
			first = err
			cancel()
		}
	}
	wg.Go(func() {
		switch ok, err := present(ctx, c, b.cfg.TetherImage); {
		case err != nil:
			fail(fmt.Errorf("bottle-tether: %w", err))
		case !ok:
			fail(fmt.Errorf("bottle-tether: image %q not found on the Docker Engine (bottle never pulls its own: build it with make images, or name another with %s)", b.cfg.TetherImage, EnvTetherImage))
		}
	})
	for _, img := range list {
		wg.Go(func() {
			if err := p.have(ctx, img.ref); err != nil {
				fail(fmt.Errorf("%s: %w", img.what, err))
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); first == nil && err != nil {
		return err // the caller's: interrupted
	}
	return first
}

// puller puts images on the Engine.
type puller struct {
	c       *client.Client
	how     agentdef.Pull
	timeout time.Duration
	creds   *credentials
}

// have makes sure ref is on the Engine, pulling it as p.how says.
func (p *puller) have(ctx context.Context, ref string) error {
	named, bad := reference.ParseNormalizedNamed(ref)
	there, err := present(ctx, p.c, ref)
	switch {
	case err != nil && bad != nil:
		return fmt.Errorf("image %q is not an image reference: %v", ref, bad)
	case err != nil:
		return err
	case there && (p.how != agentdef.PullAlways || bad != nil):
		return nil // an image ID, say, is nothing a registry could serve
	case p.how == agentdef.PullNever:
		return fmt.Errorf("image %q is not on the Docker Engine, and pull is %q: build or load it, or pull it", ref, p.how)
	case bad != nil:
		return fmt.Errorf("image %q is not on the Docker Engine, and no registry could serve it: %v", ref, bad)
	}
	return p.pull(ctx, named)
}

// present says whether the Engine has the image ref.
func present(ctx context.Context, c *client.Client, ref string) (bool, error) {
	_, err := c.ImageInspect(ctx, ref)
	switch {
	case cerrdefs.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("image %q: asking the Docker Engine for it: %w", ref, err)
	}
	return true, nil
}

// pull has the Engine pull named from its registry with the user's
// credentials for that registry alone, shows its progress on one line, and
// gives up when the Engine reports nothing for p.timeout. Whatever the
// registry or the Engine says comes back in one line with no secret in it.
func (p *puller) pull(ctx context.Context, named reference.Named) error {
	host := reference.Domain(named)
	image := reference.FamiliarString(named)
	var secrets []string
	failf := func(format string, args ...any) error {
		return fmt.Errorf("pulling %s from %s: %s", image, host, redact(fmt.Sprintf(format, args...), secrets))
	}
	auth, secrets, err := p.creds.auth(host)
	if err != nil {
		return failf("%v", err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Armed before the request: the Engine answers nothing at all until
	// the registry has answered it.
	stall := time.AfterFunc(p.timeout, func() { cancel(errStalled) })
	defer stall.Stop()
	defer progress.Line(ctx, image, "")
	tally := newTally(image)
	progress.Line(ctx, image, tally.String())
	res, err := p.c.ImagePull(ctx, named.String(), client.ImagePullOptions{RegistryAuth: auth})
	if err == nil {
		for msg, merr := range res.JSONMessages(ctx) {
			if merr != nil {
				err = merr
				break
			}
			stall.Reset(p.timeout)
			if msg.Error != nil {
				err = errors.New(msg.Error.Message)
				break
			}
			if tally.add(msg) {
				progress.Line(ctx, image, tally.String())
			}
		}
	}
	switch {
	case err == nil:
		return nil
	case context.Cause(ctx) == errStalled:
		return failf("the registry does not answer (nothing within %s)", p.timeout)
	case ctx.Err() != nil:
		return context.Cause(ctx)
	}
	return failf("%s", p.reason(err, auth != ""))
}

// reason says in a user's words what a failed pull's error means: the
// image is not there, the registry wants other credentials, it cannot be
// reached, or what it sent does not match its digest; else the Engine's
// own words. The Engine tells these apart only in its messages' text.
func (p *puller) reason(err error, withCredentials bool) string {
	msg := strings.TrimPrefix(oneLine(err.Error()), "Error response from daemon: ")
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(strings.ToLower(msg), w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("unauthorized", "authentication required", "incorrect username or password", "access to the resource is denied") && withCredentials:
		return "the registry refused the credentials in " + p.creds.path()
	case has("unauthorized", "authentication required", "no basic auth credentials") && !withCredentials:
		return fmt.Sprintf("the registry wants credentials, and %s has none for it (docker login puts them there)", p.creds.path())
	case has("repository does not exist", "pull access denied"):
		return "no such image there, or it needs credentials that " + p.creds.path() + " does not have"
	case has("manifest unknown", "not found", "name unknown"):
		return "no such image there"
	case has("verification failed", "digest did not match", "digest mismatch", "unexpected digest"):
		return "what the registry sent does not match the image's digest"
	case has("timeout", "deadline exceeded", "connection refused", "no such host", "connection reset", "no route to host", "network is unreachable"):
		return "the registry cannot be reached: " + msg
	}
	return msg
}

// tally counts what a pull has done, from the Engine's messages, for its
// line: layers done of those known, bytes downloaded of those known.
type tally struct {
	image  string
	layers map[string]*layer
	order  []string
}

type layer struct {
	current, total int64
	done           bool
}

func newTally(image string) *tally {
	return &tally{image: image, layers: map[string]*layer{}}
}

// add counts msg and says whether the line changed. Messages about
// anything but a layer (the tag, the digest, the outcome) are not counted.
func (t *tally) add(msg jsonstream.Message) bool {
	switch msg.Status {
	case "Pulling fs layer", "Waiting", "Downloading", "Verifying Checksum", "Download complete", "Extracting", "Pull complete", "Already exists":
	default:
		return false
	}
	l, ok := t.layers[msg.ID]
	if !ok {
		l = &layer{}
		t.layers[msg.ID] = l
		t.order = append(t.order, msg.ID)
	}
	switch msg.Status {
	case "Downloading":
		if msg.Progress != nil {
			l.current, l.total = msg.Progress.Current, max(l.total, msg.Progress.Total)
		}
	case "Verifying Checksum", "Download complete", "Extracting":
		l.current = l.total
	case "Pull complete", "Already exists":
		l.current, l.done = l.total, true
	}
	return true
}

// String is the pull's line: "pulling IMAGE: 1 of 3 layers, 12.3MB of 45.6MB".
func (t *tally) String() string {
	if len(t.order) == 0 {
		return "pulling " + t.image
	}
	done := 0
	var current, total int64
	for _, id := range t.order {
		l := t.layers[id]
		if l.done {
			done++
		}
		current, total = current+l.current, total+l.total
	}
	return fmt.Sprintf("pulling %s: %d of %d layers, %s of %s", t.image, done, len(t.order), units.HumanSize(float64(current)), units.HumanSize(float64(total)))
}
