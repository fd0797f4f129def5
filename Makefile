# bottle: build, example images, demo and tests. `make demo` and `make test`
# work on a fresh clone: any Debian package they need is installed here.

GO   ?= go
BIN  ?= bin
# busybox-static: the example and test images are made from it (no registry).
# fzf and jq: the pipelines the README shows, and the tests that run them.
DEBS := busybox-static fzf jq

.PHONY: all deps build images demo test fuzz clean

all: build

deps:
	@missing=; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "installing:$$missing"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi

# Static binaries: bottle-egress goes into a FROM-scratch image as it is.
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/...

# The images of the example agents and their sidecars: busybox, and
# bottle-egress on its own.
images: deps build
	$(GO) run ./examples/images $(BIN)/bottle-egress

demo: deps build images
	BOTTLE_AGENT_PATH=examples/agents $(BIN)/bottle-start reviewer
	$(BIN)/bottle-ls

# -count=1: the end-to-end tests exercise the Docker Engine, whose state
# a cached result would not reflect. Then each fuzz target runs briefly on
# top of its seed corpus.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(MAKE) --no-print-directory fuzz

# Every parser of untrusted input: lines, definitions, smolvm's listing,
# egress patterns and the hosts matched against them.
FUZZTIME ?= 5s
FUZZ := pkg/agent:FuzzParseRef pkg/agentdef:FuzzLoad pkg/backend/smolmachines:FuzzParseList \
	pkg/egress:FuzzParsePattern pkg/egress:FuzzAllows
fuzz:
	@for t in $(FUZZ); do \
		echo "fuzz $${t#*:} ($(FUZZTIME))"; \
		out=$$($(GO) test -run='^$$' -fuzz="^$${t#*:}$$" -fuzztime=$(FUZZTIME) ./$${t%%:*} 2>&1) || { echo "$$out"; exit 1; }; \
	done

clean:
	rm -rf $(BIN)
