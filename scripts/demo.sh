#!/usr/bin/env bash
# The local demo: builds cased, starts it on loopback with a throwaway alias
# key, delivers a real PGP-encrypted report over LMTP with swaks, shows the
# case with casectl, lets the acknowledgement leave over STARTTLS to a local
# SMTP sink (aiosmtpd, with a throwaway CA), and prints the digest.
# Everything lives in a temp directory and is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$(nproc)" --target cased casectl
bin=$PWD/build/release

work=$(mktemp -d /tmp/cased-demo-XXXXXX)
pid=""
sink=""
cleanup() {
  local status=$?
  exec 3>&-  # closes the sink's stdin: it stops
  for p in $pid $sink; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  gpgconf --homedir "$work/alias-gnupg" --kill all 2>/dev/null || true
  gpgconf --homedir "$work/reporter-gnupg" --kill all 2>/dev/null || true
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

g() { gpg --batch --quiet --pinentry-mode loopback --passphrase '' "$@"; }
echo "== making throwaway keys (INSECURE, demo only)"
mkdir -m 700 "$work/alias-gnupg" "$work/reporter-gnupg"
g --homedir "$work/alias-gnupg" --quick-gen-key security@example.com future-default default never
g --homedir "$work/reporter-gnupg" --quick-gen-key 'Rita Reporter <rita@example.org>' future-default default never
g --homedir "$work/alias-gnupg" --armor --export security@example.com | g --homedir "$work/reporter-gnupg" --import
g --homedir "$work/reporter-gnupg" --armor --export rita@example.org | g --homedir "$work/alias-gnupg" --import

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
smtp_port=$(free_port)

echo "== a local SMTP sink with STARTTLS and a throwaway CA"
mkdir "$work/spool"
PYTHONPATH=tests/e2e /usr/bin/python3 -c 'import sys; from certs import CA; print(*CA(sys.argv[1]).server("smtp"))' "$work/ca" \
  > "$work/cert-paths"
read -r cert key < "$work/cert-paths"
# The sink runs until its stdin closes: it reads a FIFO that this script holds open.
mkfifo "$work/sink.in"
/usr/bin/python3 tests/e2e/smtp_server.py --port "$smtp_port" --spool "$work/spool" --starttls \
  --cert "$cert" --key "$key" < "$work/sink.in" > "$work/sink.out" 2>&1 &
sink=$!
exec 3> "$work/sink.in"
for _ in $(seq 100); do grep -q ready "$work/sink.out" 2>/dev/null && break; sleep 0.1; done

cat > "$work/cased.toml" <<TOML
[case]
database = "$work/cases.db"
alias = "security@example.com"

[lmtp]
listen = ["127.0.0.1:$port"]

[gpg]
home = "$work/alias-gnupg"

[smtp]
host = "127.0.0.1"
port = $smtp_port
security = "starttls"
ca_file = "$work/ca/ca.pem"

[digest]
stale_days = 7
to = "psirt-team@example.com"
TOML
export CASED_CONFIG="$work/cased.toml"

echo "== starting cased on 127.0.0.1:$port"
"$bin/cased" 2> "$work/cased.log" &
pid=$!
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
  sleep 0.1
done

echo "== the reporter encrypts and signs a report to the alias (PGP/MIME)"
inner=$(printf 'Content-Type: text/plain; charset=utf-8; protected-headers="v1"\r\nSubject: Heap overflow in the widget parser\r\n\r\nSending 4097 bytes to /api/widget crashes the parser.\r\nProof of concept attached on request.\r\n')
cipher=$(printf '%s' "$inner" | g --homedir "$work/reporter-gnupg" --trust-model always --armor \
  --encrypt --sign --recipient security@example.com --local-user rita@example.org)
boundary="demo-boundary-42"
{
  printf 'From: Rita Reporter <rita@example.org>\r\nTo: security@example.com\r\nSubject: ...\r\n'
  printf 'Date: %s\r\nMessage-ID: <demo-%s@example.org>\r\nMIME-Version: 1.0\r\n' "$(date -R)" "$$"
  printf 'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="%s"\r\n\r\n' "$boundary"
  printf -- '--%s\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n' "$boundary"
  printf -- '--%s\r\nContent-Type: application/octet-stream; name="encrypted.asc"\r\n\r\n' "$boundary"
  printf '%s\r\n' "$cipher"
  printf -- '--%s--\r\n' "$boundary"
} > "$work/report.eml"

echo "== delivering it over LMTP with swaks"
swaks --silent 1 --protocol LMTP --server 127.0.0.1 --port "$port" \
  --from rita@example.org --to security@example.com --data "@$work/report.eml"

echo "== casectl list"
"$bin/casectl" list
echo
echo "== casectl show 1"
"$bin/casectl" show 1
echo
echo "== the acknowledgement, as the SMTP sink received it (STARTTLS, encrypted to the reporter)"
for _ in $(seq 300); do [ -e "$work/spool/1.eml" ] && break; sleep 0.1; done
if [ ! -e "$work/spool/1.eml" ]; then
  echo "no acknowledgement arrived; the daemon's log and the sink's output:"; cat "$work/cased.log" "$work/sink.out"; exit 1
fi
cat "$work/spool/1.json"; echo
sed -n '1,/^\r\?$/p' "$work/spool/1.eml"
grep -c -- '-----BEGIN PGP MESSAGE-----' "$work/spool/1.eml" | sed 's/^/PGP MESSAGE blocks in the body: /'
echo "the reporter decrypts it:"
/usr/bin/python3 - "$work/spool/1.eml" <<'PY' | g --homedir "$work/reporter-gnupg" --decrypt 2>/dev/null | tr -d '\r'
import email, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
sys.stdout.buffer.write(msg.get_payload()[1].get_payload(decode=True))
PY
echo
echo "== casectl outbox"
"$bin/casectl" outbox
echo
echo "== casectl digest"
"$bin/casectl" digest
echo
echo "== the daemon's log (names cases and Message-IDs, never subjects or bodies)"
kill -TERM "$pid"; wait "$pid" || true; pid=""
cat "$work/cased.log"
