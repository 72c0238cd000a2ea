#!/bin/sh
# run-lane.sh RUNTIME...: runs the conformance suite against each runtime in turn and exits
# non-zero if any run is not clean (a failure missing from the runtime's expected file, an
# expected failure that passed, or a driver error). Works on the host and, unchanged, inside
# the cgroup v2 VM lane:
#   ../shared/vm/vm-run.sh -- runtime-tests/run-lane.sh /usr/bin/runc ../shared/tools/crun-v1
# Environment: RT_BIN_DIR (where runtime-tests and probe are; default: target/release or
# $CARGO_TARGET_DIR/release), SPEC_DIR (default ../shared/runtime-spec), RT_ARGS (extra flags,
# e.g. "-j 2"), RT_OUT_DIR (if set, each run's output is also saved there as <runtime>-<mode>.txt).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${RT_BIN_DIR:-${CARGO_TARGET_DIR:-$here/target}/release}
spec=${SPEC_DIR:-$here/../shared/runtime-spec}
if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then mode=v2; else mode=v1; fi
status=0
for rt in "$@"; do
  name=$(basename "$rt")
  echo "== $name (cgroup $mode)"
  if [ -n "${RT_OUT_DIR:-}" ]; then
    mkdir -p "$RT_OUT_DIR"
    # shellcheck disable=SC2086
    "$bin/runtime-tests" --runtime "$rt" --probe "$bin/probe" --spec-dir "$spec" ${RT_ARGS:-} \
      > "$RT_OUT_DIR/$name-$mode.txt" 2>&1
    rc=$?
    grep -v '^ok ' "$RT_OUT_DIR/$name-$mode.txt"
  else
    # shellcheck disable=SC2086
    "$bin/runtime-tests" --runtime "$rt" --probe "$bin/probe" --spec-dir "$spec" ${RT_ARGS:-}
    rc=$?
  fi
  echo "== $name exit $rc"
  [ "$rc" -eq 0 ] || status=1
done
exit $status
