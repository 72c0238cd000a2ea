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

# Root integration tests of the cgroups module under pure cgroup v2: the test binaries are
# built here, then run inside one throwaway VM (../shared/vm/vm-run.sh, see ../shared/README.md).
VM_RUN ?= $(firstword $(wildcard ../shared/vm/vm-run.sh ../../shared/vm/vm-run.sh) /work/shared/vm/vm-run.sh)
.PHONY: test-cgroupv2
test-cgroupv2:
	@bins=$$($(CARGO) test -p libcontainer --no-run --test 'cgroups_*' --message-format=json \
		| jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null and (.target.name | startswith("cgroups_"))) | .executable'); \
	test -n "$$bins" || { echo "test-cgroupv2: no cgroups test binary was built" >&2; exit 1; }; \
	$(VM_RUN) -- sh -c 'set -e; for b in "$$@"; do echo "== $$b"; "$$b" --test-threads=2 --nocapture; done' sh $$bins
