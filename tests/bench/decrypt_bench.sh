#!/usr/bin/env bash
# PGP/MIME messages per second through the ingest path (parse, decrypt,
# verify, store with a durable commit) next to the bare GPGME decrypt+verify
# of the same ciphertext, in one process (decrypt_bench.cpp).
# Usage: tests/bench/decrypt_bench.sh [build-dir]     (default build/bench)
# Env: BENCH_SECONDS (per measurement, default 10), BUILD_JOBS (default 1).
# Makes throwaway keys (INSECURE: no passphrase) in a temp GNUPGHOME, never
# in the repository, and removes them and their gpg-agents when done.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build/bench}
seconds=${BENCH_SECONDS:-10}

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
cmake --build "$build" --target decrypt_bench -j "${BUILD_JOBS:-1}" >&2
bench=$(realpath "$build/decrypt_bench")

work=$(mktemp -d /tmp/cased-decrypt-bench-XXXXXX)
alias_home=$work/alias reporter_home=$work/reporter msgs=$work/messages
cleanup() {
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

# compose NAME BYTES: an RFC 3156 multipart/encrypted message whose inner
# text/plain body is BYTES of incompressible ASCII (base64 of random bytes,
# 76-column lines), signed by the reporter and encrypted to the alias.
compose() {
  local name=$1 bytes=$2 b="==cased-bench-boundary=="
  head -c "$bytes" /dev/urandom | base64 -w 76 > "$work/$name.text"
  truncate -s "$bytes" "$work/$name.text"
  {
    printf 'Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n'
    cat "$work/$name.text"
    printf '\n'
  } | crlf > "$work/$name.inner"
  {
    printf 'From: Rita Reporter <rita@example.org>\nTo: security@example.com\n'
    printf 'Subject: benchmark report %s\nDate: Sun, 22 Nov 2026 21:56:20 +0000\n' "$name"
    printf 'Message-ID: <bench-%s@example.org>\nMIME-Version: 1.0\n' "$name"
    printf 'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="%s"\n\n' "$b"
    printf 'This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\n--%s\n' "$b"
    printf 'Content-Type: application/pgp-encrypted\nContent-Description: PGP/MIME version identification\n\n'
    printf 'Version: 1\n\n--%s\n' "$b"
    printf 'Content-Type: application/octet-stream; name="encrypted.asc"\n'
    printf 'Content-Disposition: inline; filename="encrypted.asc"\n\n'
    g "$reporter_home" --armor --encrypt --sign --local-user rita@example.org \
      --recipient security@example.com < "$work/$name.inner"
    printf '\n--%s--\n' "$b"
  } | crlf > "$msgs/$name.eml"
  rm "$work/$name.inner" "$work/$name.text"
}
compose 4KB 4096
compose 1MB 1048576

echo "# $(date -u +%Y-%m-%d) $(nproc) cores, gpg $(gpg --version | awk 'NR==1 {print $3}'), build $build" >&2
"$bench" "$alias_home" "$msgs" --seconds "$seconds"
