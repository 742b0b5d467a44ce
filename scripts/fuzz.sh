#!/usr/bin/env bash
# Fuzzes each target for SECONDS (default 60) with libFuzzer, ASan and UBSan.
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (targets: tests/fuzz/fuzz_<name>.cpp)
# Builds with clang++ into build/fuzz (-DCASED_FUZZ=ON), starts from the seed
# corpus tests/fuzz/corpus/<target> (read only), writes what it finds new to
# build/fuzz/corpus/<target> (scratch: merge worthwhile inputs into the seed
# corpus by hand) and crashes, hangs and leaks to build/fuzz/crashes/<target>/.
# Each run's log is build/fuzz/logs/<target>.log; the last status line of
# each is printed at the end. Env: FUZZ_JOBS (build jobs, default 2),
# FUZZ_NICE (default 19), FUZZ_ARGS (extra libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
build=build/fuzz

all=()
for f in tests/fuzz/fuzz_*.cpp; do n=$(basename "$f" .cpp); all+=("${n#fuzz_}"); done
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

# Inputs larger than the limit are cut: enough for several messages in one
# LMTP session or a deep MIME tree, small enough for thousands of runs a second.
max_len() {
  case $1 in
    lmtp|lmtp_store|mime|wire|webform) echo 65536 ;;
    smtp_reply|imap_reply|html|mbox) echo 32768 ;;
    *) echo 8192 ;;
  esac
}

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
  -DCASED_FUZZ=ON >/dev/null
nice -n "${FUZZ_NICE:-19}" cmake --build "$build" -j"${FUZZ_JOBS:-2}" --target "${targets[@]/#/fuzz_}"

mkdir -p "$build/logs"
for t in "${targets[@]}"; do
  bin=$(find "$build" -name "fuzz_$t" -type f -perm -u+x | head -1)
  [ -n "$bin" ] || { echo "no binary for $t" >&2; exit 1; }
  mkdir -p "$build/corpus/$t" "$build/crashes/$t"
  echo "== $t: ${seconds}s" >&2
  # leak detection stays on; a hang is an input that takes over 10 s.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    nice -n "${FUZZ_NICE:-19}" "$bin" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/crashes/$t/" ${FUZZ_ARGS:-} \
    "$build/corpus/$t" "tests/fuzz/corpus/$t" >"$build/logs/$t.log" 2>&1 || echo "$t: stopped with a finding" >&2
done

for t in "${targets[@]}"; do
  last=$(grep -E '^#[0-9]+' "$build/logs/$t.log" | tail -1 || true)
  execs=$(grep -E '^stat::number_of_executed_units' "$build/logs/$t.log" | awk '{print $2}' || true)
  rate=$(grep -E '^stat::average_exec_per_sec' "$build/logs/$t.log" | awk '{print $2}' || true)
  found=$(find "$build/crashes/$t" -type f | wc -l)
  printf '%-12s execs=%s exec/s=%s findings=%s last: %s\n' "$t" "${execs:-?}" "${rate:-?}" "$found" "$last"
done
