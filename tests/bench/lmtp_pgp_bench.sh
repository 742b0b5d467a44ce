#!/usr/bin/env bash
# PGP/MIME mail through LMTP into cased, next to the bare GPGME
# decrypt+verify rate of the same kind of message on as many threads as
# cores (gpgme_threads_bench.cpp): what fraction of the ceiling cased reaches.
# Usage: tests/bench/lmtp_pgp_bench.sh [build-dir]     (default build/release)
# cased is taken from build-dir as it is; only when cased or casectl is
# missing there are those targets built. The baseline program is built in
# BENCH_BUILD (default build/bench; configured RelWithDebInfo if it has no
# cache). Env: MESSAGES (default 1000), SESSIONS (default "1 2 4 8"),
# BENCH_SECONDS (baseline, per measurement, default 10), BUILD_JOBS (default 1),
# QUIET_WAIT (seconds to wait for an idle machine before each measurement, 300).
# Every message is encrypted and signed on its own (distinct ciphertext,
# distinct Message-ID); each session count gets a fresh cased and database.
# Makes throwaway keys (INSECURE: no passphrase) in a temp GNUPGHOME, never
# in the repository, and removes them and their gpg-agents when done.
# Needs: gpg, sqlite3, /usr/bin/python3.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build/release}
bench_build=${BENCH_BUILD:-build/bench}
messages=${MESSAGES:-1000}
session_counts=${SESSIONS:-"1 2 4 8"}
seconds=${BENCH_SECONDS:-10}
jobs=${BUILD_JOBS:-1}
threads=$(nproc)

configure() {
  [ -f "$1/CMakeCache.txt" ] || cmake -S "$src" -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
}
if [ ! -x "$build/cased" ] || [ ! -x "$build/casectl" ]; then
  configure "$build"
  cmake --build "$build" --target cased casectl -j "$jobs" >&2
fi
configure "$bench_build"
cmake --build "$bench_build" --target gpgme_threads_bench -j "$jobs" >&2
cased_bin=$(realpath "$build/cased")
bare_bin=$(find "$bench_build" -name gpgme_threads_bench -type f -perm -u+x | head -1)
[ -n "$bare_bin" ] || { echo "no gpgme_threads_bench in $bench_build" >&2; exit 1; }
bare_bin=$(realpath "$bare_bin")
client=$src/tests/bench/lmtp_client.py

work=$(mktemp -d /tmp/cased-pgp-bench-XXXXXX)
alias_home=$work/alias reporter_home=$work/reporter msgs=$work/messages
server=
cleanup() {
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  for h in "$alias_home" "$reporter_home"; do
    [ -d "$h" ] && gpgconf --homedir "$h" --kill all 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -m 700 "$alias_home" "$reporter_home"
mkdir "$msgs"

g() {  # g HOME ARGS...
  local home=$1; shift
  gpg --homedir "$home" --batch --yes --quiet --pinentry-mode loopback --passphrase '' --trust-model always "$@"
}
make_key() {  # make_key HOME UID: ed25519 primary, cv25519 encryption subkey, no expiry
  g "$1" --quick-gen-key "$2" ed25519 sign,cert never
  local fpr
  fpr=$(g "$1" --with-colons --list-secret-keys | awk -F: '/^fpr:/ {print $10; exit}')
  g "$1" --quick-add-key "$fpr" cv25519 encr never
}
make_key "$alias_home" "Security Team <security@example.com>"
make_key "$reporter_home" "Rita Reporter <rita@example.org>"
g "$alias_home" --armor --export security@example.com | g "$reporter_home" --import
g "$reporter_home" --armor --export rita@example.org | g "$alias_home" --import

crlf() { sed 's/\r$//; s/$/\r/'; }

# compose N: an RFC 3156 multipart/encrypted message, Message-ID
# <pgp-bench-N@example.org>, whose inner text/plain body is 4096 bytes of
# incompressible ASCII (base64 of random bytes), signed by the reporter and
# encrypted to the alias: the 4KB message of decrypt_bench.sh.
compose() {
  local n=$1 b="==cased-bench-boundary==" text
  text=$(head -c 4096 /dev/urandom | base64 -w 76)
  {
    printf 'From: Rita Reporter <rita@example.org>\nTo: security@example.com\n'
    printf 'Subject: benchmark report %s\nDate: Sun, 22 Nov 2026 21:56:20 +0000\n' "$n"
    printf 'Message-ID: <pgp-bench-%s@example.org>\nMIME-Version: 1.0\n' "$n"
    printf 'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="%s"\n\n' "$b"
    printf 'This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\n--%s\n' "$b"
    printf 'Content-Type: application/pgp-encrypted\nContent-Description: PGP/MIME version identification\n\n'
    printf 'Version: 1\n\n--%s\n' "$b"
    printf 'Content-Type: application/octet-stream; name="encrypted.asc"\n'
    printf 'Content-Disposition: inline; filename="encrypted.asc"\n\n'
    {
      printf 'Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n'
      printf '%s' "${text:0:4096}"
      printf '\n'
    } | crlf | g "$reporter_home" --armor --encrypt --sign --local-user rita@example.org \
      --recipient security@example.com
    printf '\n--%s--\n' "$b"
  } | crlf > "$msgs/$(printf '%06d' "$n").eml"
}
t0=$(date +%s.%N)
for n in $(seq "$messages"); do compose "$n"; done
echo "composed $messages messages ($(stat -c %s "$msgs/000001.eml") bytes each) in" \
  "$(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s" >&2

cpu_ticks() { if [ -n "$1" ]; then awk '{print $14 + $15}' "/proc/$1/stat"; else echo 0; fi; }  # utime+stime
agent_pid() { pgrep -f "gpg-agent --homedir $alias_home" | head -1 || true; }
stat_busy() { awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }  # busy, all (ticks)
# The machine is shared: before each measurement wait (up to QUIET_WAIT s,
# default 300) for a second in which both cores are at least 90 % idle.
quiet() {
  local waited=0 b0 a0 b1 a1
  while [ "$waited" -lt "${QUIET_WAIT:-300}" ]; do
    read -r b0 a0 < <(stat_busy); sleep 1; read -r b1 a1 < <(stat_busy)
    [ $((100 * (b1 - b0) / (a1 - a0))) -lt 10 ] && return 0
    waited=$((waited + 1))
  done
  echo "warning: the machine was not idle before this measurement" >&2
}
hz=$(getconf CLK_TCK)

echo "# $(date -u +%Y-%m-%d) $threads cores, gpg $(gpg --version | awk 'NR==1 {print $3}'), cased $cased_bin" >&2

# The ceiling: bare GPGME on 1 and $threads threads, one context per thread;
# and $threads threads with a fresh context per operation, as cased does.
bare() {  # bare ARGS...: one gpgme_threads_bench line, with the machine's CPU busy % during it
  local b0 a0 b1 a1 line
  quiet
  read -r b0 a0 < <(stat_busy)
  line=$("$bare_bin" "$alias_home" "$msgs/000001.eml" --seconds "$seconds" "$@")
  read -r b1 a1 < <(stat_busy)
  echo "$line cpu_busy=$((100 * (b1 - b0) / (a1 - a0)))%"
}
bare1=$(bare --threads 1)
bareN=$(bare --threads "$threads")
bareN_op=$(bare --threads "$threads" --context per-op)
printf '%s\n%s\n%s\n' "$bare1" "$bareN" "$bareN_op" >&2
rate_of() { sed 's/.*msgs_per_s=\([0-9.]*\).*/\1/' <<<"$1"; }
ceiling=$(rate_of "$bareN")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }

printf '\nbare GPGME decrypt+verify, 4 KB PGP/MIME: %s msg/s on 1 thread, %s msg/s on %s threads (%s msg/s with a fresh context per operation)\n\n' \
  "$(rate_of "$bare1")" "$ceiling" "$threads" "$(rate_of "$bareN_op")"
printf '| sessions | msgs/s | %% of bare GPGME on %s threads | seconds | stored, decryption ok | cased peak RSS | largest parse worker peak RSS | CPU busy (both cores) | CPU s: cased and its parse workers | gpg-agent | client |\n' "$threads"
printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
for sessions in $session_counts; do
  dir=$work/cased-$sessions; mkdir -p "$dir"
  port=$(free_port)
  printf '[case]\ndatabase = "%s/cases.db"\nalias = "security@example.com"\n[lmtp]\nlisten = ["127.0.0.1:%s"]\n[gpg]\nhome = "%s"\n[ack]\nenabled = false\n' \
    "$dir" "$port" "$alias_home" > "$dir/cased.toml"
  "$cased_bin" --config "$dir/cased.toml" 2>"$dir/log" & server=$!
  wait_port "$port"
  agent=$(agent_pid); agent0=$(cpu_ticks "$agent")
  quiet
  read -r b0 a0 < <(stat_busy)
  result=$(python3 "$client" 127.0.0.1 "$port" "$sessions" "$msgs" --count "$messages") || {
    echo "delivery failed: $result" >&2; tail -5 "$dir/log" >&2; exit 1; }
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
  # PGP mail is decrypted in cased's parse worker processes: count them too.
  workers=$(pgrep -P "$server" -f -- --parse-worker || true)
  worker_rss=$(for p in $workers; do awk '/VmHWM/ {print $2}' "/proc/$p/status"; done | sort -n | tail -1)
  worker_cpu=0; for p in $workers; do worker_cpu=$((worker_cpu + $(cpu_ticks "$p"))); done
  read -r b1 a1 < <(stat_busy)
  self=$(( $(cpu_ticks "$server") + worker_cpu )) agent1=$(cpu_ticks "$agent")
  kill -TERM "$server"; wait "$server" || true; server=
  stored=$(sqlite3 "$dir/cases.db" "SELECT count(*) FROM messages WHERE decryption='ok' AND signature='good'")
  [ "$stored" -eq "$messages" ] || { echo "cased stored $stored of $messages with decryption ok" >&2; exit 1; }
  python3 - "$result" "$ceiling" "$stored" "$rss" "$((100 * (b1 - b0) / (a1 - a0)))" "$self" "$((agent1 - agent0))" "$hz" "${worker_rss:-0}" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); ceiling = float(sys.argv[2]); hz = int(sys.argv[8])
ticks = lambda x: f"{int(x) / hz:.1f}"
print(f"| {r['sessions']} | {r['msgs_per_s']} | {100 * r['msgs_per_s'] / ceiling:.0f}% | {r['seconds']} | "
      f"{sys.argv[3]} | {int(sys.argv[4]) // 1024} MB | {int(sys.argv[9]) // 1024} MB | {sys.argv[5]}% | {ticks(sys.argv[6])} | "
      f"{ticks(sys.argv[7])} | {r['client_cpu_s']} |")
PY
done
