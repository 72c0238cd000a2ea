# minke — common entry points. `make test` is what CI runs (see .ci/run).
CARGO ?= cargo
MINKE_RELEASE := target/release/minke
# ../shared beside the project's root (dev and CI machines); override with VM_RUN=...
VM_RUN ?= $(firstword $(wildcard ../shared/vm/vm-run.sh ../../shared/vm/vm-run.sh) /work/shared/vm/vm-run.sh)
DEMO := target/demo

.PHONY: all build release demo test unit integration test-cgroupv2 test-clients clean-demo bench fuzz fuzz-ci conformance-ci
all: release

build:
	$(CARGO) build --workspace

# The release binary is linked fully static (static-pie, glibc + libseccomp): no dynamic loader
# work at each of the several runtime commands a container's life takes (-37% instructions for
# a `state`, see docs/performance.md). `cargo rustc` passes crt-static to this binary only
# (proc-macros cannot take it). A plain `cargo build --release` still works (dynamic glibc).
release:
	$(CARGO) rustc --release -p minke --bin minke -- -C target-feature=+crt-static

# Build minke, make a bundle from busybox-static, run a container on it.
demo: release
	rm -rf $(DEMO) && mkdir -p $(DEMO)/rootfs/bin
	cp /bin/busybox $(DEMO)/rootfs/bin/busybox
	for a in $$(/bin/busybox --list); do [ "$$a" = busybox ] || ln -s busybox $(DEMO)/rootfs/bin/$$a; done
	cd $(DEMO) && ../../$(MINKE_RELEASE) spec
	jq '.process.terminal = false | .process.args = ["sh", "-c", "echo hello from minke; hostname; id; grep Cap /proc/self/status"]' \
		$(DEMO)/config.json > $(DEMO)/config.tmp && mv $(DEMO)/config.tmp $(DEMO)/config.json
	$(MINKE_RELEASE) --root $(CURDIR)/$(DEMO)/state run --bundle $(DEMO) demo

# Unit tests only (no root needed).
unit:
	$(CARGO) test --workspace --lib --bins

# Everything on this host: unit tests and the root integration tests (real containers).
integration:
	$(CARGO) test --workspace

# The root integration tests again under pure cgroup v2, in one throwaway VM: the test
# binaries are built here and run inside (host files are visible there read-only).
test-cgroupv2:
	@bins=$$($(CARGO) test -p libcontainer -p minke --no-run --tests --message-format=json \
		| jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null and .target.kind == ["test"]) | .executable'); \
	test -n "$$bins" || { echo "test-cgroupv2: no integration test binary was built" >&2; exit 1; }; \
	$(VM_RUN) -- sh -c 'set -e; for b in "$$@"; do echo "== $$b"; "$$b" --test-threads=2; done' sh $$bins

# The config.json fuzzer (crates/libcontainer/tests/fuzz_config.rs, see docs/security.md):
# structure-aware mutations through parse, validate, plan, the cgroup plans and seccomp, for
# FUZZ_SECONDS; the corpus is kept in target/fuzz-corpus between runs. fuzz-ci is the bounded
# run `make test` does (plain `cargo test` runs it for 10 s).
FUZZ_SECONDS ?= 600
FUZZ_CI_SECONDS ?= 90
fuzz:
	mkdir -p $(CURDIR)/target/fuzz-corpus
	MINKE_FUZZ_SECONDS=$(FUZZ_SECONDS) MINKE_FUZZ_CORPUS=$(CURDIR)/target/fuzz-corpus \
		$(CARGO) test -p libcontainer --test fuzz_config -- --nocapture

fuzz-ci:
	MINKE_FUZZ_SECONDS=$(FUZZ_CI_SECONDS) $(CARGO) test -p libcontainer --test fuzz_config -- --nocapture

# Everything CI runs (.ci/run): this host, the cgroup v2 VM lane, the clients, conformance.
test: integration fuzz-ci test-cgroupv2 test-clients conformance-ci

# The client lane: minke, and runc as the reference, driven by containerd (ctr + the runc
# shim) and podman (conmon), each with its own private daemon/storage; one line per (client,
# runtime, scenario). Transcript and the runtimes' argv logs go to $(CLIENT_LANE_OUT).
# See docs/integration.md.
CARGO_OUT := $(or $(CARGO_TARGET_DIR),target)
CLIENT_LANE_OUT ?= $(CARGO_OUT)/client-lane
RUNC ?= /usr/sbin/runc
# debug (default: shares the build of `make test`) or release
CLIENT_LANE_PROFILE ?= debug
test-clients:
	$(CARGO) build $(if $(filter release,$(CLIENT_LANE_PROFILE)),--release) -p minke -p client-lane
	$(CARGO_OUT)/$(CLIENT_LANE_PROFILE)/client-lane --minke $(CARGO_OUT)/$(CLIENT_LANE_PROFILE)/minke \
		--runc $(RUNC) --out $(CLIENT_LANE_OUT)

# Side-by-side start-up benchmark of minke, runc, crun and the floor (needs root; see
# docs/performance.md). Options go in BENCH_ARGS, e.g. `make bench BENCH_ARGS="--rounds 100"`;
# MINKE=path picks another minke binary. The table goes to stdout, the JSON to
# target/bench/latest.json (under CARGO_TARGET_DIR when set).
BENCH_ARGS ?=
bench: release
	$(CARGO) build --release -p minke-bench
	$(CARGO) run --release -q -p minke-bench --bin minke-bench -- $(BENCH_ARGS)

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
conformance: release runtime-tests probe
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

# What CI runs of the suite: minke, runc and crun on this host, each against its expected
# file; then the whole suite on minke again under pure cgroup v2 in one VM call (the guest runs
# under TCG here: 2.5 min for minke on a quiet host; runc and crun take 20 minutes or more
# each there, so the peers' v2 runs stay manual: `make conformance-vm-peers`).
CI_VM_RT_ARGS ?= -j 2
conformance-ci: release runtime-tests probe
	RT_BIN_DIR=$(RT_BIN_DIR) SPEC_DIR=$(SPEC_DIR) RT_ARGS="-j 2 $(RT_ARGS)" \
		runtime-tests/run-lane.sh $(RUNTIME) $(PEERS)
	$(SHARED)/vm/vm-run.sh --timeout $(VM_TIMEOUT) -- env RT_BIN_DIR=$(RT_BIN_DIR) SPEC_DIR=$(SPEC_DIR) \
		RT_ARGS="$(CI_VM_RT_ARGS)" runtime-tests/run-lane.sh $(RUNTIME)

conformance-vm-peers: runtime-tests probe
	$(SHARED)/vm/vm-run.sh --timeout $(VM_TIMEOUT) -- env RT_BIN_DIR=$(RT_BIN_DIR) SPEC_DIR=$(SPEC_DIR) \
		RT_ARGS="$(VM_RT_ARGS) $(RT_ARGS)" runtime-tests/run-lane.sh $(PEERS)
