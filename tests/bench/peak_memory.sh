#!/usr/bin/env bash
# Peak RSS per message for plain messages: `casectl ingest FILE` (under
# /usr/bin/time, CRLF and bare-LF line ends) into a fresh database, and cased
# delivering the message once over LMTP (VmHWM of a fresh daemon, sampled
# after the message is stored and indexed). Not part of ctest.
#   tests/bench/peak_memory.sh [build-dir]        (default build/release)
# Env: SIZES (default "8M 50M").
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${1:-build/release}")
sizes=${SIZES:-"8M 50M"}
work=$(mktemp -d /tmp/cased-peak-XXXXXX)
server=
cleanup() {
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

config() {  # config DIR PORT
  mkdir -p "$1/gnupg" && chmod 700 "$1/gnupg"
  printf '[case]\ndatabase = "%s/cases.db"\nalias = "security@example.com"\n[lmtp]\nlisten = ["127.0.0.1:%s"]\nmax_message_size = %s\n[ack]\nenabled = false\n[gpg]\nhome = "%s/gnupg"\n' \
    "$1" "$2" $((64 * 1024 * 1024)) "$1" > "$1/cased.toml"
}

echo "| path | message | bytes | peak RSS | over idle / size |"
echo "|---|---|---|---|---|"
for size in $sizes; do
  python3 "$src/tests/bench/hostile_gen.py" plain "$size" "$work/plain-$size.eml"
  sed 's/\r$//' "$work/plain-$size.eml" > "$work/plainlf-$size.eml"
  for kind in plain plainlf; do
    f=$work/$kind-$size.eml dir=$work/ingest-$kind-$size
    config "$dir" 0
    /usr/bin/time -f "%M" -o "$dir/kb" "$build/casectl" --config "$dir/cased.toml" ingest "$f" > /dev/null
    kb=$(cat "$dir/kb") bytes=$(stat -c %s "$f")
    echo "| casectl ingest | $kind $size | $bytes | $((kb / 1024)) MB | - |"
  done
  f=$work/plain-$size.eml dir=$work/lmtp-$size
  mkdir -p "$dir/msg" && ln -s "$f" "$dir/msg/m.eml"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  config "$dir" "$port"
  "$build/cased" --config "$dir/cased.toml" 2>"$dir/log" & server=$!
  for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
  idle=$(awk '/VmHWM/ {print $2}' /proc/$server/status)
  python3 "$src/tests/bench/lmtp_client.py" 127.0.0.1 "$port" 1 "$dir/msg" > /dev/null
  for _ in $(seq 200); do
    [ "$(sqlite3 "$dir/cases.db" 'SELECT indexed_upto FROM search_progress' 2>/dev/null || echo 0)" -ge 1 ] && break
    sleep 0.05
  done
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$server/status)
  kill -TERM "$server"; wait "$server" || true; server=
  bytes=$(stat -c %s "$f")
  echo "| cased, LMTP | plain $size | $bytes | $((hwm / 1024)) MB (idle $((idle / 1024)) MB) | $(python3 -c "print(f'{($hwm - $idle) * 1024 / $bytes:.2f}')") |"
done
