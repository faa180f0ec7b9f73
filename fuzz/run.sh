#!/bin/sh
# Runs every fuzz target in turn for SECONDS each, on its corpus (seeded
# from testdata by seed.sh) and its committed regressions, then prints one
# line per target: executions, executions a second, and whether it held.
# Exits non-zero when any target crashed, hung or failed to build; the
# input that did it is in fuzz/artifacts/<target>/.
#
# Usage: fuzz/run.sh SECONDS [cargo-fuzz build options, e.g. --dev]
# Environment: FUZZ_TOOLCHAIN (default nightly), FUZZ_TARGETS (default all).
set -eu
[ $# -ge 1 ] || { echo "usage: $0 SECONDS [cargo-fuzz options]" >&2; exit 2; }
seconds=$1
shift
cd "$(dirname "$0")"
toolchain=${FUZZ_TOOLCHAIN:-nightly}
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
failed=""
summary=""
for target in $targets; do
  dirs="corpus/$target"
  [ -d "regressions/$target" ] && dirs="$dirs regressions/$target"
  log="$logs/$target.log"
  echo "fuzz: $target for $seconds s"
  # -timeout: an input that takes this long is a hang, and fails the run.
  # shellcheck disable=SC2086 # $dirs is a list of directories.
  if cargo_fuzz run "$@" "$target" $dirs -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    failed="$failed $target"
    # The panic, without backtraces, then how to reproduce it.
    grep -A 4 'panicked at' "$log" | head -n 20 || true
    grep -E 'ERROR: libFuzzer|SUMMARY|Test unit written|^error' "$log" || true
    grep -A 2 '^Reproduce with:' "$log" || true
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  summary="$summary$(printf '%-18s %12s runs %9s/s  %s' "$target" "${runs:-?}" "${rate:-?}" "$result")
"
done
end=$(date +%s)
rm -rf "$logs"

printf '\n%s' "$summary"
echo "fuzz: $(echo "$targets" | wc -w) targets, $((end - built)) s fuzzing, $((end - start)) s in all"
if [ -n "$failed" ]; then
  echo "fuzz: FAILED:$failed (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
