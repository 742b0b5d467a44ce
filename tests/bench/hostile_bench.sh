#!/usr/bin/env bash
# Peak RSS and time per message for the worst inputs of issue 12, next to a
# plain message of the same size, each delivered once over LMTP to a fresh
# cased (so that its VmHWM is that message's). Not part of ctest.
#   tests/bench/hostile_bench.sh [build-dir]           (default build/release)
# Env: SIZES (default "1M 8M 50M"), KINDS (default "plain deep tinyparts
# nested html references", see hostile_gen.py), TIMEOUT per message in
# seconds (default 120), MEMORY_LIMIT_MB for cased's address space (default
# 4096: a runaway message ends in an allocation failure, not the OOM killer),
# BOMB=0 to skip the compressed PGP message (made only when gpg is there),
# BOMB_MB for its size once decompressed (default 300), KEEP=1 to keep the
# work directory (logs, databases). After a timeout or a crash the larger
# sizes of that kind are skipped. Prints a Markdown table: kind, size,
# outcome, seconds, time relative to the plain message of that size, peak
# RSS (and the parse workers' for the PGP message), and the peak RSS over
# that of the idle daemon divided by the message size.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build/release}
cased_bin=$(realpath "$build/cased")
sizes=${SIZES-"1M 8M 50M"}
kinds=${KINDS-"plain deep tinyparts nested html references"}
limit=${TIMEOUT:-120}
mem_mb=${MEMORY_LIMIT_MB:-4096}
gen=$src/tests/bench/hostile_gen.py
client=$src/tests/bench/lmtp_client.py
work=$(mktemp -d /tmp/cased-hostile-XXXXXX)
server= sampler=
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  [ -d "$work/gnupg" ] && gpgconf --homedir "$work/gnupg" --kill all 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
bytes_of() { python3 -c "import sys; sys.path.insert(0, '$src/tests/bench'); import hostile_gen; print(hostile_gen.parse_size('$1'))"; }

# A fresh cased and database; gpg.home holds the alias key when there is one.
start_cased() {
  local dir=$work/run-$1; mkdir -p "$dir"
  port=$(free_port)
  printf '[case]\ndatabase = "%s/cases.db"\nalias = "security@example.com"\n[lmtp]\nlisten = ["127.0.0.1:%s"]\nmax_message_size = %s\n[ack]\nenabled = false\n[gpg]\nhome = "%s"\n' \
    "$dir" "$port" $((64 * 1024 * 1024)) "$work/gnupg" > "$dir/cased.toml"
  (ulimit -v $((mem_mb * 1024)); exec "$cased_bin" --config "$dir/cased.toml") 2>"$dir/log" & server=$!
  wait_port "$port"
  idle_kb=$(awk '/VmHWM/ {print $2}' /proc/$server/status)
  # VmHWM is gone with the process: keep the last value seen.
  # OpenPGP mail is parsed in worker processes: their largest VmHWM too.
  (while [ -r /proc/$server/status ]; do
     awk '/VmHWM/ {print $2}' /proc/$server/status > "$dir/hwm.tmp" 2>/dev/null && mv "$dir/hwm.tmp" "$dir/hwm"
     for c in $(pgrep -P "$server" || true); do
       w=$(awk '/VmHWM/ {print $2}' /proc/$c/status 2>/dev/null || echo 0)
       [ "${w:-0}" -gt "$(cat "$dir/whwm" 2>/dev/null || echo 0)" ] && echo "$w" > "$dir/whwm"
     done
     sleep 0.1
   done) &
  sampler=$!
}

stop_cased() {  # prints how it ended
  local rc=0
  if kill -0 "$server" 2>/dev/null; then
    # A cased still parsing does not stop on SIGTERM (the parse holds its
    # event loop): SIGKILL after 5 s, so that it cannot slow the next run.
    kill -TERM "$server"
    for _ in $(seq 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server" 2>/dev/null && echo "ran (SIGKILL: still busy 5 s after SIGTERM)" || echo "ran"
    wait "$server" 2>/dev/null || true
  else
    wait "$server" || rc=$?
    echo "died (exit $rc$( [ $rc -gt 128 ] && echo ", signal $((rc - 128))"))"
  fi
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  server= sampler=
}

# deliver NAME FILE: one message; sets outcome, seconds, rss_mb, over_mb (peak over the idle daemon's).
deliver() {
  local name=$1 file=$2 dir=$work/run-$1 t0 t1 out ended
  mkdir -p "$dir/msg"; ln -sf "$file" "$dir/msg/m.eml"
  start_cased "$name"
  t0=$(date +%s.%N)
  if out=$(timeout "$limit" python3 "$client" 127.0.0.1 "$port" 1 "$dir/msg" 2>&1); then
    outcome="250"
  elif [ $? -eq 124 ]; then
    outcome="timeout (${limit}s)"
  else
    outcome=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print((d["failures"] or ["?"])[0][:60])' "$out" 2>/dev/null || echo "client failed")
  fi
  t1=$(date +%s.%N)
  sleep 0.3  # one more VmHWM sample
  ended=$(stop_cased)
  case $ended in ran) ;; ran*) outcome="$outcome; ${ended#ran }" ;; *) outcome="$outcome; cased $ended" ;; esac
  seconds=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
  local peak_kb; peak_kb=$(cat "$dir/hwm" 2>/dev/null || echo 0)
  rss_mb=$((peak_kb / 1024)) over_mb=$(((peak_kb - idle_kb) / 1024))
  worker_mb=$(( $(cat "$dir/whwm" 2>/dev/null || echo 0) / 1024 ))
}

make_bomb() {  # a PGP/MIME message whose 1 KB of bzip2 becomes BOMB_MB of zeros
  command -v gpg >/dev/null || return 1
  g() { gpg --homedir "$work/gnupg" --batch --yes --quiet --pinentry-mode loopback --passphrase '' --trust-model always "$@"; }
  mkdir -m 700 "$work/gnupg"
  g --quick-gen-key "Security Team <security@example.com>" ed25519 sign,cert never
  local fpr; fpr=$(g --with-colons --list-secret-keys | awk -F: '/^fpr:/ {print $10; exit}')
  g --quick-add-key "$fpr" cv25519 encr never
  { printf 'Content-Type: text/plain\r\n\r\n'; head -c $((${BOMB_MB:-300} * 1024 * 1024)) /dev/zero; } |
    g --compress-algo bzip2 -z 9 --armor --encrypt -r security@example.com > "$work/bomb.asc"
  { printf 'From: rita@example.org\r\nTo: security@example.com\r\nSubject: bomb\r\nMessage-ID: <bomb@example.org>\r\n'
    printf 'MIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b"\r\n\r\n'
    printf -- '--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--b\r\n'
    printf 'Content-Type: application/octet-stream\r\n\r\n'; sed 's/$/\r/' "$work/bomb.asc"; printf -- '--b--\r\n'
  } > "$work/bomb.eml"
}

printf '| kind | size | outcome | seconds | x plain | peak RSS MB | (peak - idle) / size |\n|---|---|---|---|---|---|---|\n'
declare -A plain_s failed
for size in $sizes; do
  n=$(bytes_of "$size")
  for kind in $kinds; do
    if [ -n "${failed[$kind]:-}" ]; then
      printf '| %s | %s | skipped (%s at a smaller size) | | | | |\n' "$kind" "$size" "${failed[$kind]}"
      continue
    fi
    file=$work/$kind-$size.eml
    python3 "$gen" "$kind" "$size" "$file"
    echo "== $kind $size" >&2
    deliver "$kind-$size" "$file"
    [ "$kind" = plain ] && plain_s[$size]=$seconds
    case $outcome in 250) ;; *) failed[$kind]=$outcome ;; esac
    ratio=$(python3 -c "p='${plain_s[$size]:-}'; print(f'{$seconds / float(p):.1f}' if p and float(p) > 0 else '')")
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$kind" "$(( $(stat -c %s "$file") / 1024 ))K" "$outcome" \
      "$seconds" "$ratio" "$rss_mb" "$(python3 -c "print(f'{$over_mb * 1048576 / $n:.1f}')")"
  done
done
if [ "${BOMB:-1}" != 0 ] && make_bomb; then
  echo "== bomb" >&2
  deliver bomb "$work/bomb.eml"
  printf '| compressed PGP (%s MB of zeros) | %sK | %s | %s | | %s (parse worker: %s) | |\n' "${BOMB_MB:-300}" \
    "$(( $(stat -c %s "$work/bomb.eml") / 1024 ))" "$outcome" "$seconds" "$rss_mb" "$worker_mb"
fi
