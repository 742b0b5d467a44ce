#!/usr/bin/env bash
# `casectl notify` to VENDORS vendors (default 150) in one command, each
# vendor with its own key. Makes INSECURE throwaway keys at run time (the
# alias's and one ed25519/cv25519 key per vendor, no passphrase) in a temp
# GNUPGHOME, adds the vendors to the book, then RUNS times (default 5) files
# a new report and times `casectl notify ID v000 ... vNNN -m TEXT` (composing,
# signing and encrypting every mail and queuing them all in one
# transaction; no [smtp] section, so nothing is sent). With SEND=1 a
# plain-SMTP aiosmtpd sink on 127.0.0.1 receives them and the same command
# also sends every mail. Prints one line per run: wall seconds, casectl's
# CPU time (user + system) and its peak RSS, and the output's line count,
# then checks that each run queued VENDORS rows of kind notify. Key making
# is not timed. Not part of ctest.
#   tests/bench/notify_bench.sh [build-dir]        (default build/release)
# Env: VENDORS, RUNS, SEND, CASECTL (another casectl binary to time),
# BASELINE (a second casectl binary: each run then times it and CASECTL in
# turn, alternating which goes first, each on a case of its own).
set -euo pipefail
build=$(realpath "${1:-build/release}")
vendors=${VENDORS:-150}
runs=${RUNS:-5}
send=${SEND:-0}
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d /tmp/cased-notify-bench-XXXXXX)
sink_pid=
cleanup() {
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  gpgconf --homedir "$work/gpg" --kill all 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export GNUPGHOME="$work/gpg"
mkdir -m 700 "$GNUPGHOME"
g() { gpg --batch --yes --quiet --pinentry-mode loopback --passphrase '' "$@"; }

t0=$(date +%s.%N)
g --quick-gen-key security@example.com ed25519 sign,cert never
g --quick-add-key "$(g --with-colons --list-secret-keys | awk -F: '/^fpr/{print $10; exit}')" cv25519 encr never
for i in $(seq -f %03g 0 $((vendors - 1))); do
  g --quick-gen-key "v$i <psirt@v$i.example>" ed25519 sign,cert never
  fpr=$(g --with-colons --list-keys "psirt@v$i.example" | awk -F: '/^fpr/{print $10; exit}')
  g --quick-add-key "$fpr" cv25519 encr never
  echo "$i $fpr" >> "$work/fprs"
done
# Vendors' secret keys go: the alias holds only their public halves.
while read -r i fpr; do g --delete-secret-keys "$fpr"; done < "$work/fprs"
echo "keys for $vendors vendors made in $(echo "$(date +%s.%N) - $t0" | bc) s (not timed below)" >&2

smtp=
if [ "$send" = 1 ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir "$work/spool"
  coproc SINK { exec python3 "$here/../e2e/smtp_server.py" --port "$port" --spool "$work/spool" --plain; }
  sink_pid=$SINK_PID
  read -r ready <&"${SINK[0]}"
  [ "$ready" = ready ] || { echo "sink did not start" >&2; exit 1; }
  smtp=$(printf '[smtp]\nhost = "127.0.0.1"\nport = %s\nsecurity = "none"\nmax_per_recipient_per_day = 1000\n' "$port")
fi
cat > "$work/cased.toml" <<EOF
[case]
database = "$work/cases.db"
alias = "security@example.com"
tag = "CASE"

[gpg]
home = "$GNUPGHOME"

$smtp
EOF
export CASED_CONFIG="$work/cased.toml"
casectl=${CASECTL:-$build/casectl}
"$casectl" init > /dev/null
while read -r i fpr; do
  "$casectl" vendor add "v$i" --contact "psirt@v$i.example" --contact "cert@v$i.example" --key "$fpr" > /dev/null
done < "$work/fprs"
names=$(awk '{printf "v%s ", $1}' "$work/fprs")
text="A heap overflow in the widget parser affects your product; details follow inside the encryption."

binaries=("$casectl")
[ -n "${BASELINE:-}" ] && binaries+=("$(realpath "$BASELINE")")
id=0
for run in $(seq 1 "$runs"); do
  order=("${binaries[@]}")
  if [ $((run % 2)) = 0 ] && [ ${#binaries[@]} = 2 ]; then order=("${binaries[1]}" "${binaries[0]}"); fi
  for bin in "${order[@]}"; do
    id=$((id + 1))
    printf 'From: Rita <rita@example.org>\r\nTo: security@example.com\r\nSubject: report %s\r\nMessage-ID: <r%s@example.org>\r\n\r\nzebra42\r\n' \
      "$id" "$id" | "$casectl" ingest > /dev/null
    # shellcheck disable=SC2086
    /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$bin" notify "$id" $names -m "$text" > "$work/out" 2>&1
    read -r wall user sys rss < "$work/time"
    rows=$(sqlite3 "$work/cases.db" "SELECT count(*) FROM outbox WHERE kind = 'notify' AND case_id = $id")
    [ "$rows" = "$vendors" ] || { echo "run $run: $rows rows queued, not $vendors" >&2; cat "$work/out" >&2; exit 1; }
    sent=$(sqlite3 "$work/cases.db" "SELECT count(*) FROM outbox WHERE kind = 'notify' AND case_id = $id AND status = 'sent'")
    printf 'run %d %s: %d vendors, %.2f s wall, %.2f s CPU, %d KiB peak RSS, %d line(s) of output, %d sent; %s\n' \
      "$run" "$bin" "$vendors" "$wall" "$(echo "$user + $sys" | bc)" "$rss" "$(wc -l < "$work/out")" "$sent" \
      "$(tail -1 "$work/out")"
  done
done
