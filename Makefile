# bottle: build, example images, demo and tests. `make demo` and `make test`
# work on a fresh clone: any Debian package they need is installed here.

GO   ?= go
BIN  ?= bin
# busybox-static: the example and test images are made from it (no registry).
# fzf and jq: the pipelines the README shows, and the tests that run them;
# tmux: the terminals of the tests of sessions; ca-certificates: the roots
# the egress proxy's image verifies hosts against; git: agents on a branch of
# their own (bottle-start --branch), whose test images carry it too;
# docker-registry: the registry the tests of pulling start on 127.0.0.1;
# iproute2 and nftables: the tests of bottle-netlock make network
# namespaces and read their rules back. The single-node Kubernetes the
# tests of the kubernetes backend run on (cluster/): containernetworking-
# plugins for its pods' bridge, iptables and iproute2 for the node's
# network, openssl for its certificates; and containerd (with ctr) and
# runc, which CLUSTER_CMDS installs only where no such command is: Docker
# CE's containerd.io ships both and conflicts with Debian's packages.
DEBS := busybox-static fzf jq tmux ca-certificates git docker-registry iproute2 nftables \
	containernetworking-plugins iptables openssl
CLUSTER_CMDS := containerd runc

.PHONY: all deps build images demo test fuzz clean bench cluster-up cluster-down

all: build

deps:
	@missing=; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	for c in $(CLUSTER_CMDS); do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "installing:$$missing"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi

# Static binaries: bottle-egress, bottle-tether and bottle-netlock go into
# FROM-scratch images as they are.
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/...

# The images of the example agents and their sidecars: busybox, and
# bottle-egress on its own; and bottle-tether's, which docker bottles need.
images: deps build
	$(GO) run ./examples/images $(BIN)

demo: deps build images
	$(BIN)/bottle-start examples/agents/reviewer.json
	$(BIN)/bottle-ls

# -count=1: the end-to-end tests exercise the Docker Engine and a
# Kubernetes cluster, whose state a cached result would not reflect. Then
# each fuzz target runs briefly on top of its seed corpus.
#
# The tests run against a single-node cluster brought up for them in
# CLUSTER_DIR (cluster/up.sh; minutes the first time on a machine, while
# it builds Kubernetes, seconds after) and taken down once they end,
# passed, failed or interrupted: the trap is in the same shell as go test.
# The tests find it by BOTTLE_TEST_KUBECONFIG and BOTTLE_TEST_CONTAINERD,
# from CLUSTER_DIR/env. A cluster that does not come up fails the run under
# CI=true; elsewhere the kubernetes tests skip, with a warning here. A
# tear-down that leaves something behind fails the run too.
CLUSTER_DIR ?= $(CURDIR)/.cluster
export CLUSTER_DIR

test: deps
	$(GO) vet ./...
	@if cluster/up.sh; then \
		trap 'status=$$?; cluster/down.sh || status=1; exit $$status' EXIT; \
		trap 'exit 130' INT TERM HUP; \
		. "$(CLUSTER_DIR)/env"; \
	else \
		cluster/down.sh || true; \
		if [ "$${CI:-}" = true ]; then \
			echo "make test: the test cluster did not come up (see above; its logs: $(CLUSTER_DIR)/logs), and CI=true needs it" >&2; \
			exit 1; \
		fi; \
		echo "make test: warning: no test cluster (see above): the kubernetes tests will skip" >&2; \
	fi; \
	echo "$(GO) test -count=1 ./..."; \
	$(GO) test -count=1 ./...
	$(MAKE) --no-print-directory fuzz

# A cluster for a developer's own runs, as make test brings up (it then
# takes it down at its end): cluster-up prints how to point kubectl at it.
cluster-up: deps
	cluster/up.sh
cluster-down:
	cluster/down.sh

# Every parser of untrusted input: lines, definitions and the JSON they are
# written in, smolvm's listing, egress patterns and the hosts matched
# against them, and the filter of what programs in bottles print.
FUZZTIME ?= 5s
FUZZ := pkg/agent:FuzzParseRef pkg/agentdef:FuzzLoad pkg/agentdef/internal/strictjson:FuzzDecode \
	pkg/backend/smolmachines:FuzzParseList pkg/egress/rules:FuzzParsePattern pkg/egress:FuzzAllows \
	internal/cli/logs:FuzzStripControls
fuzz:
	@for t in $(FUZZ); do \
		echo "fuzz $${t#*:} ($(FUZZTIME))"; \
		out=$$($(GO) test -run='^$$' -fuzz="^$${t#*:}$$" -fuzztime=$(FUZZTIME) ./$${t%%:*} 2>&1) || { echo "$$out"; exit 1; }; \
	done

# Measures the binaries against the docker CLI and curl on the local Docker
# Engine (issue 7) and writes docs/PERFORMANCE.md; takes about ten minutes.
# curl is the floor it measures against and GNU time gives peak RSS: both
# are installed here when missing.
bench: build images
	@missing=; for p in curl time; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "installing:$$missing"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi
	$(GO) run ./bench -bin $(BIN)

clean:
	rm -rf $(BIN)

# Shell integration: man pages, bash and zsh completion, install.
# `make install PREFIX=/usr/local` (DESTDIR honoured) installs the binaries,
# a man page per binary and the completion files.
PREFIX      ?= /usr/local
bindir      ?= $(PREFIX)/bin
man1dir     ?= $(PREFIX)/share/man/man1
bashcompdir ?= $(PREFIX)/share/bash-completion/completions
zshcompdir  ?= $(PREFIX)/share/zsh/site-functions
# The binaries built on internal/cli (all but bottle-egress, the sidecar's
# proxy): each writes its own man page and completes its own words.
CLI_BINS = $(notdir $(shell $(GO) list -f '{{if eq .Name "main"}}{{range .Deps}}{{if eq . "github.com/bottle-dev/bottle/internal/cli"}}{{$$.ImportPath}}{{end}}{{end}}{{end}}' ./cmd/...))

.PHONY: man completions install

# man/man1/bottle-*.1, go-flags' pages from the same definitions as each
# --help, dated by the last commit unless SOURCE_DATE_EPOCH is given, so that
# a tree makes the same pages every time.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
man: build
	@mkdir -p man/man1
	@for b in $(CLI_BINS); do \
		SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(BIN)/$$b --man > man/man1/$$b.1.tmp && mv man/man1/$$b.1.tmp man/man1/$$b.1 || exit 1; \
		echo "man/man1/$$b.1"; \
	done

# completions/bottle.bash and completions/_bottle (zsh). The scripts are in
# internal/cli; they ask the binaries for every flag, backend and agent.
completions: build
	@mkdir -p completions
	$(BIN)/$(firstword $(CLI_BINS)) --completion=bash > completions/bottle.bash
	$(BIN)/$(firstword $(CLI_BINS)) --completion=zsh > completions/_bottle

# bash-completion loads completions/NAME for the command NAME: one file,
# and a link to it for each binary.
install: man completions
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(man1dir) $(DESTDIR)$(bashcompdir) $(DESTDIR)$(zshcompdir)
	install -m 0755 $(BIN)/* $(DESTDIR)$(bindir)/
	install -m 0644 $(foreach b,$(CLI_BINS),man/man1/$(b).1) $(DESTDIR)$(man1dir)/
	install -m 0644 completions/bottle.bash $(DESTDIR)$(bashcompdir)/bottle
	for b in $(CLI_BINS); do ln -sf bottle $(DESTDIR)$(bashcompdir)/$$b; done
	install -m 0644 completions/_bottle $(DESTDIR)$(zshcompdir)/_bottle
