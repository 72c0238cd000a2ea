# minke — common entry points. `make test` is what CI runs (see .ci/run).
CARGO ?= cargo

.PHONY: all build release test unit
all: release

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release -p minke

unit:
	$(CARGO) test --workspace --lib --bins

test: unit

# --- conformance suite (runtime-tests/, see docs/conformance.md) ---------------------------
# RUNTIME: the runtime under test (default: our own minke). RT_ARGS: extra driver flags,
# e.g. RT_ARGS="-t lifecycle -j 2". The probe is linked statically (glibc, crt-static) with
# `cargo rustc`, which passes the flag to that one binary only; it is relinked every time
# because a plain `cargo build` of the workspace relinks it dynamically at the same path.
RUNTIME ?= $(CURDIR)/target/release/minke
RT_ARGS ?=
RT_BIN_DIR = $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)/release
# ../shared beside the clone (CI), or two levels up (a worktree under wt/)
SHARED ?= $(abspath $(firstword $(wildcard $(CURDIR)/../shared $(CURDIR)/../../shared)))
SPEC_DIR ?= $(SHARED)/runtime-spec
PEERS ?= /usr/bin/runc $(SHARED)/tools/crun-v1
VM_RT_ARGS ?= -j 2
# the guest runs under TCG on our machines: the whole suite takes 20 min (runc) to over an hour
VM_TIMEOUT ?= 5400

.PHONY: probe runtime-tests conformance conformance-peers conformance-vm conformance-vm-peers
probe:
	$(CARGO) rustc --release -p runtime-tests --bin probe -- -C target-feature=+crt-static

runtime-tests:
	$(CARGO) build --release -p runtime-tests --bin runtime-tests

# the suite against RUNTIME on this host
conformance: runtime-tests probe
	$(RT_BIN_DIR)/runtime-tests --runtime $(RUNTIME) --probe $(RT_BIN_DIR)/probe \
		--spec-dir $(SPEC_DIR) $(RT_ARGS)

# the suite against runc and crun (validates the tests themselves)
conformance-peers: runtime-tests probe
	RT_BIN_DIR=$(RT_BIN_DIR) SPEC_DIR=$(SPEC_DIR) RT_ARGS="$(RT_ARGS)" \
		runtime-tests/run-lane.sh $(PEERS)

# the same on pure cgroup v2: one VM boot for the whole run (../shared/vm/vm-run.sh)
conformance-vm: runtime-tests probe
	$(SHARED)/vm/vm-run.sh --timeout $(VM_TIMEOUT) -- env RT_BIN_DIR=$(RT_BIN_DIR) SPEC_DIR=$(SPEC_DIR) \
		RT_ARGS="$(VM_RT_ARGS) $(RT_ARGS)" runtime-tests/run-lane.sh $(RUNTIME)

conformance-vm-peers: runtime-tests probe
	$(SHARED)/vm/vm-run.sh --timeout $(VM_TIMEOUT) -- env RT_BIN_DIR=$(RT_BIN_DIR) SPEC_DIR=$(SPEC_DIR) \
		RT_ARGS="$(VM_RT_ARGS) $(RT_ARGS)" runtime-tests/run-lane.sh $(PEERS)
