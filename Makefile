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
