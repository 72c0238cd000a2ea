# minke — common entry points. `make test` is what CI runs (see .ci/run).
CARGO ?= cargo

.PHONY: all build release test unit bench
all: release

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release -p minke

unit:
	$(CARGO) test --workspace --lib --bins

test: unit

# Side-by-side start-up benchmark of minke, runc, crun and the floor (needs root; see
# docs/performance.md). Options go in BENCH_ARGS, e.g. `make bench BENCH_ARGS="--rounds 100"`;
# MINKE=path picks another minke binary. The table goes to stdout, the JSON to
# target/bench/latest.json (under CARGO_TARGET_DIR when set).
BENCH_ARGS ?=
bench:
	$(CARGO) build --release -p minke -p minke-bench
	$(CARGO) run --release -q -p minke-bench --bin minke-bench -- $(BENCH_ARGS)
