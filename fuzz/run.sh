#!/bin/sh
# Runs every fuzz target for SECONDS each, on its corpus (seeded from
# testdata by seed.sh) and its committed regressions, FUZZ_JOBS targets at
# a time, then prints one line per target: executions, executions a
# second, and whether it held. Exits non-zero when any target crashed,
# hung or failed to build; the input that did it is in
# fuzz/artifacts/<target>/.
#
# Usage: fuzz/run.sh SECONDS [cargo-fuzz build options, e.g. --dev]
# Environment: FUZZ_TOOLCHAIN (default nightly), FUZZ_TARGETS (default all),
# FUZZ_JOBS (default: one per CPU; each libFuzzer run uses one).
set -eu
[ $# -ge 1 ] || { echo "usage: $0 SECONDS [cargo-fuzz options]" >&2; exit 2; }
seconds=$1
shift
cd "$(dirname "$0")"
toolchain=${FUZZ_TOOLCHAIN:-nightly}
jobs=${FUZZ_JOBS:-$(getconf _NPROCESSORS_ONLN)}
# No sanitizer: the parsers are safe Rust, where AddressSanitizer finds
# nothing that bounds checks do not, at half the speed.
set -- --sanitizer none "$@"
cargo_fuzz() { cargo "+$toolchain" fuzz "$@"; }

targets=${FUZZ_TARGETS:-$(for f in fuzz_targets/*.rs; do basename "$f" .rs; done)}
./seed.sh corpus >/dev/null
cargo "+$toolchain" fetch --locked --quiet
start=$(date +%s)
cargo_fuzz build "$@"
built=$(date +%s)
echo "fuzz: built the targets in $((built - start)) s"

logs=$(mktemp -d "${TMPDIR:-/tmp}/cnetstat-fuzz.XXXXXX")

# Runs one target with the cargo-fuzz options that follow it; its log is $logs/TARGET.log, its result (ok or FAILED)
# $logs/TARGET.result.
run_target() {
  target=$1
  shift
  dirs="corpus/$target"
  [ -d "regressions/$target" ] && dirs="$dirs regressions/$target"
  echo "fuzz: $target for $seconds s"
  # -timeout: an input that takes this long is a hang, and fails the run.
  # shellcheck disable=SC2086 # $dirs is a list of directories.
  if cargo_fuzz run "$@" "$target" $dirs -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$logs/$target.log" 2>&1; then
    echo ok >"$logs/$target.result"
  else
    echo FAILED >"$logs/$target.result"
  fi
}

# The targets dealt out to $jobs lanes in turn, each lane running its
# targets one after another, the lanes side by side.
lane=0
while [ "$lane" -lt "$jobs" ]; do
  (
    i=0
    for target in $targets; do
      [ $((i % jobs)) -eq "$lane" ] && run_target "$target" "$@"
      i=$((i + 1))
    done
  ) &
  lane=$((lane + 1))
done
wait
end=$(date +%s)

failed=""
summary=""
for target in $targets; do
  log="$logs/$target.log"
  result=$(cat "$logs/$target.result")
  if [ "$result" != ok ]; then
    failed="$failed $target"
    # The panic, without backtraces, then how to reproduce it.
    echo "fuzz: $target FAILED"
    grep -A 4 'panicked at' "$log" | head -n 20 || true
    grep -E 'ERROR: libFuzzer|SUMMARY|Test unit written|^error' "$log" || true
    grep -A 2 '^Reproduce with:' "$log" || true
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  summary="$summary$(printf '%-18s %12s runs %9s/s  %s' "$target" "${runs:-?}" "${rate:-?}" "$result")
"
done
rm -rf "$logs"

printf '\n%s' "$summary"
echo "fuzz: $(echo "$targets" | wc -w) targets, $jobs at a time, $((end - built)) s fuzzing, $((end - start)) s in all"
if [ -n "$failed" ]; then
  echo "fuzz: FAILED:$failed (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
