#!/usr/bin/env bash
# The analyst's commands on a large archive (docs/benchmarks.md, "Scale"):
# generate an mbox (gen_mbox.py), import it with `casectl ingest --mbox`
# (rate, peak RSS), add the analysts' work (gen_activity: assignments,
# states, comments, replies, a three-year history), then time each command
# as a whole process, RUNS times, and print a table (median, min, max).
#   tests/bench/scale_bench.sh [build-dir] [messages]   (default build/release 10000)
# Env: RUNS (default 7), CASES (default messages / 10), WORK (default a new
# directory under /tmp, removed at the end unless KEEP=1), REUSE=1 to time
# the database already in WORK without generating or importing again.
# Not part of ctest.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${1:-build/release}")
messages=${2:-10000}
cases=${CASES:-$((messages / 10))}
runs=${RUNS:-7}
work=${WORK:-$(mktemp -d /tmp/cased-scale-XXXXXX)}
mkdir -p "$work"
cleanup() { if [ "${KEEP:-0}" != 1 ]; then rm -rf "$work"; fi; }
trap cleanup EXIT

cmake --build "$build" --target casectl gen_activity -j2 >/dev/null
casectl="$build/casectl"
mkdir -p "$work/gnupg" && chmod 700 "$work/gnupg"
printf '[case]\ndatabase = "%s/cases.db"\nalias = "security@example.com"\ntag = "CASE"\n[gpg]\nhome = "%s/gnupg"\n' \
  "$work" "$work" > "$work/cased.toml"
export CASED_CONFIG="$work/cased.toml"

if [ "${REUSE:-0}" != 1 ]; then
  rm -f "$work"/cases.db*
  start=$(date +%s.%N)
  python3 "$src/tests/bench/gen_mbox.py" --messages "$messages" --cases "$cases" --out "$work/archive.mbox"
  echo "generated in $(echo "$(date +%s.%N) - $start" | bc) s"
  "$casectl" init >/dev/null
  /usr/bin/time -f "%e %M" -o "$work/ingest.time" "$casectl" ingest --mbox "$work/archive.mbox"
  read -r secs rss < "$work/ingest.time"
  bytes=$(stat -c %s "$work/archive.mbox")
  echo "ingest --mbox: $messages messages, $bytes bytes in $secs s:" \
    "$(echo "$messages / $secs" | bc) messages/s, $(echo "scale=1; $bytes / $secs / 1000000" | bc) MB/s," \
    "peak RSS $((rss / 1024)) MB"
  rm -f "$work/archive.mbox"
  "$build/tests/bench/gen_activity" "$work/cases.db"
fi
echo "database: $(du -sb "$work"/cases.db* | awk '{s += $1} END {printf "%.2f GB", s / 1e9}')," \
  "$(sqlite3 "$work/cases.db" 'SELECT count(*) FROM cases'): cases," \
  "$(sqlite3 "$work/cases.db" 'SELECT count(*) FROM messages') messages," \
  "$(sqlite3 "$work/cases.db" 'SELECT count(*) FROM comments') comments"

# A case of a typical size for `show`: the one in the middle of the ids.
show_id=$(sqlite3 "$work/cases.db" "SELECT id FROM cases WHERE merged_into IS NULL ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM cases)")

python3 - "$casectl" "$runs" "$show_id" <<'EOF'
import resource, statistics, subprocess, sys, time
casectl, runs, show_id = sys.argv[1], int(sys.argv[2]), sys.argv[3]
commands = [
    ["list", "--limit", "50"],
    ["show", show_id],
    ["search", "kestrelfjord"],
    ["search", "version"],
    ["digest"],
    ["stats"],
    ["stats", "--since", "2020-01-01"],
    ["list", "--status", "waiting", "--limit", "50"],
]
# Wall time is the measure; CPU time (user + system) is shown beside it,
# since on a shared machine the wall time also holds the waits for a core.
print("| command | median ms | min | max | CPU ms (median) | lines | runs |")
print("|---|---|---|---|---|---|---|")
for args in commands:
    subprocess.run([casectl, *args], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        out = subprocess.run([casectl, *args], stdout=subprocess.PIPE, check=True).stdout
        times.append((time.perf_counter() - t) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
    lines = out.count(b"\n")
    print(f"| `casectl {' '.join(args)}` | {statistics.median(times):.1f} | {min(times):.1f} | {max(times):.1f} "
          f"| {statistics.median(cpu):.1f} | {lines} | {runs} |")
EOF
