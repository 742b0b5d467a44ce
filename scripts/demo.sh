#!/usr/bin/env bash
# The local demo: builds cased, starts it on loopback with a throwaway alias
# key, delivers a real PGP-encrypted report over LMTP with swaks, and shows
# the case with casectl. Everything lives in a temp directory and is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$(nproc)" --target cased casectl
bin=$PWD/build/release

work=$(mktemp -d /tmp/cased-demo-XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  gpgconf --homedir "$work/alias-gnupg" --kill all 2>/dev/null || true
  gpgconf --homedir "$work/reporter-gnupg" --kill all 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

g() { gpg --batch --quiet --pinentry-mode loopback --passphrase '' "$@"; }
echo "== making throwaway keys (INSECURE, demo only)"
mkdir -m 700 "$work/alias-gnupg" "$work/reporter-gnupg"
g --homedir "$work/alias-gnupg" --quick-gen-key security@example.com future-default default never
g --homedir "$work/reporter-gnupg" --quick-gen-key 'Rita Reporter <rita@example.org>' future-default default never
g --homedir "$work/alias-gnupg" --armor --export security@example.com | g --homedir "$work/reporter-gnupg" --import
g --homedir "$work/reporter-gnupg" --armor --export rita@example.org | g --homedir "$work/alias-gnupg" --import

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/cased.toml" <<TOML
[case]
database = "$work/cases.db"
alias = "security@example.com"

[lmtp]
listen = ["127.0.0.1:$port"]

[gpg]
home = "$work/alias-gnupg"
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
echo "== the daemon's log (names cases and Message-IDs, never subjects or bodies)"
kill -TERM "$pid"; wait "$pid" || true; pid=""
cat "$work/cased.log"
