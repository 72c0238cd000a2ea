#!/bin/sh
# strace-lifecycle.sh OUT RUNTIME [BUNDLE]
#
# Traces one lifecycle (create, start, wait for exit, delete) of BUNDLE (default: a fresh
# `minke-bench bundle`) with RUNTIME under `strace -ff`, one file per task in OUT, and prints
# per task and in total: syscalls, successful execve/execveat (with the images), clone/fork,
# mount(2). The shell that drives the lifecycle is left out. Needs root and strace.
# Example: strace-lifecycle.sh /tmp/trace-crun /usr/bin/crun
set -eu
out=$1 rt=$2 bundle=${3:-}
bench=$(dirname "$0")/../../../target/release/minke-bench
rm -rf "$out"; mkdir -p "$out"
if [ -z "$bundle" ]; then
	bundle=$out/bundle
	"${MINKE_BENCH:-$bench}" bundle "$bundle" >/dev/null
fi
root=$out/state id=trace-$$
strace -ff -o "$out/t" sh -c '
	"$0" --root "$1" create --bundle "$2" --pid-file "$3/pid" "$4" || exit 1
	read pid < "$3/pid"
	"$0" --root "$1" start "$4" || exit 1
	while kill -0 "$pid" 2>/dev/null; do :; done
	"$0" --root "$1" delete "$4"' "$rt" "$root" "$bundle" "$out" "$id"
driver=$(ls "$out"/t.* | sed 's/.*\.//' | sort -n | head -1)
tasks=0 total=0 execs=0 clones=0 mounts=0
for f in "$out"/t.*; do
	task=${f##*.}
	[ "$task" = "$driver" ] && continue
	n=$(grep -vc -e '^+++' -e '^---' -e 'resumed>' "$f" || true)
	e=$(grep -cE '^execve(at)?\(.*= 0$' "$f" || true)
	c=$(grep -cE '^(clone|clone3|fork|vfork)\(' "$f" || true)
	m=$(grep -c '^mount(' "$f" || true)
	images=$(grep -E '^execve(at)?\(.*= 0$' "$f" | sed -e 's/^execveat([0-9]*, ""/execve("(fd)"/' \
		-e 's/^execve("\([^"]*\)".*/\1/' | xargs -r -n1 basename | paste -sd'>' -)
	printf '  task %-8s %5d syscalls, %d exec (%s), %d clone\n' "$task" "$n" "$e" "$images" "$c"
	tasks=$((tasks + 1)) total=$((total + n)) execs=$((execs + e)) clones=$((clones + c)) mounts=$((mounts + m))
done
echo "$rt: $tasks tasks, $total syscalls, $execs exec, $clones clone/fork, $mounts mount"
