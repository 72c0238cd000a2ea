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
# `cargo rustc`, which passes the flag to that one binary only; it is rebuilt every time
# because a plain `cargo build` of the workspace relinks it dynamically at the same path.
RUNTIME ?= $(CURDIR)/target/release/minke
RT_ARGS ?=
RT_PROFILE_DIR = $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)/release
SPEC_DIR ?= $(abspath $(CURDIR)/../shared/runtime-spec)

.PHONY: probe runtime-tests conformance conformance-vm
probe:
	$(CARGO) rustc --release -p runtime-tests --bin probe -- -C target-feature=+crt-static

runtime-tests:
	$(CARGO) build --release -p runtime-tests --bin runtime-tests

conformance: runtime-tests probe
	$(RT_PROFILE_DIR)/runtime-tests --runtime $(RUNTIME) --probe $(RT_PROFILE_DIR)/probe \
		--spec-dir $(SPEC_DIR) $(RT_ARGS)

# The same suite on pure cgroup v2: one VM boot for the whole run (../shared/vm/vm-run.sh).
conformance-vm: runtime-tests probe
	../shared/vm/vm-run.sh -- $(RT_PROFILE_DIR)/runtime-tests --runtime $(RUNTIME) \
		--probe $(RT_PROFILE_DIR)/probe --spec-dir $(SPEC_DIR) $(RT_ARGS)
