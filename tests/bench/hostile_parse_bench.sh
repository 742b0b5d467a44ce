#!/usr/bin/env bash
# Hostile mail, parsed and stored: wall time and peak RSS of one
# `casectl ingest` per input, for the worst shapes of issue 12 next to a
# plain message of the same size; and, when the build has parse_bench
# (cmake --build BUILD --target parse_bench), the parser's share alone:
# prepare_message without crypto, its time and the peak RSS it added
# over the file already read. Usage:
#   tests/bench/hostile_parse_bench.sh [build-dir] [sizes in MB, default "1 8"]
# e.g. tests/bench/hostile_parse_bench.sh build/release "1 8 50".
# Fixed-size inputs (the 680 KB HTML, 40,000 References, 3.4 MB nesting)
# are run once. Needs: python3, /usr/bin/time.
set -euo pipefail
build=${1:-build/release}
sizes=${2:-1 8}
casectl=$(realpath "$build/casectl")
parse_bench=$build/tests/bench/parse_bench
work=$(mktemp -d /tmp/cased-hostile-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

gen() {  # gen KIND BYTES FILE
  python3 - "$1" "$2" "$3" <<'PY'
import sys
kind, size, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
head = b"From: rita@example.org\r\nTo: security@example.com\r\nSubject: bench\r\nMessage-ID: <b@example.org>\r\n"
out = bytearray(head)
if kind == "plain":
    out += b"\r\n"
    line = b"The widget overflows when the frobnicator is reticulated twice.\r\n"
    while len(out) < size: out += line
elif kind == "tiny-parts":
    out += b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    while len(out) < size: out += b"--b\r\n\r\nx\r\n"
    out += b"--b--\r\n"
elif kind == "nested-multipart":
    i = 0
    while len(out) < size:
        out += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i); i += 1
    out += b"\r\ninnermost\r\n"
elif kind == "nested-rfc822":
    while len(out) < size: out += b"Content-Type: message/rfc822\r\n\r\n"
    out += b"innermost\r\n"
elif kind == "html-scripts":
    out += b"Content-Type: text/html\r\n\r\n<html><body>"
    while len(out) < size: out += b"<SCRIPT>var a = 1;</SCRIPT><style>p{}</style>x &amp; y && "
    out += b"</body></html>\r\n"
elif kind == "ampersands":
    out += b"Content-Type: text/html\r\n\r\n"
    out += b"&" * (size - len(out))
elif kind == "references":
    refs = b"References:" + b"".join(b" <r%d@example.org>\r\n" % i for i in range(40000))
    out += refs + b"\r\nbody\r\n"
open(path, "wb").write(out)
PY
}

run() {  # run LABEL FILE
  local file=$2 dir=$work/db-$RANDOM$RANDOM; mkdir -p "$dir"
  printf '[case]\ndatabase = "%s/cases.db"\nalias = "security@example.com"\n[ack]\nenabled = false\n' "$dir" >"$dir/cased.toml"
  local bytes; bytes=$(stat -c %s "$2")
  local out
  if CASED_CONFIG=$dir/cased.toml /usr/bin/time -o "$dir/time" -f '%e %M' "$casectl" --json ingest <"$2" >/dev/null 2>"$dir/err"; then
    out=$(tail -n 1 "$dir/time")
  else
    out="FAILED($(tail -n 1 "$dir/time"); $(tail -c 120 "$dir/err" | tr '\n' ' '))"
  fi
  # shellcheck disable=SC2086
  set -- "$1" "$bytes" $out
  local parse=""
  if [[ -x $parse_bench ]]; then
    # time, RSS before, peak RSS after (KB): the parser's own share
    read -r pt pb pa _ < <("$parse_bench" "$file" || echo "- 0 0 -")
    parse=$(printf '%8ss %9s KB  %5.1fx' "$pt" "$((pa - pb))" "$(echo "($pa-$pb)*1024/$2" | bc -l)")
  fi
  if [[ ${3:-} == FAILED* ]]; then printf '%-22s %10s  %s\n' "$1" "$2" "${*:3}"
  else printf '%-22s %10s %8ss %9s KB  %5.1fx  | %s\n' "$1" "$2" "$3" "$4" "$(echo "$4*1024/$2" | bc -l)" "$parse"; fi
  rm -rf "$dir"
}

printf '%-22s %10s %9s %12s  %s  | %s\n' INPUT BYTES TIME PEAK_RSS RSS/SIZE "PARSE: TIME, ADDED RSS, /SIZE"
for mb in $sizes; do
  for kind in plain tiny-parts nested-multipart html-scripts; do
    gen "$kind" $((mb * 1024 * 1024)) "$work/in.eml"
    run "$kind-${mb}M" "$work/in.eml"
  done
done
gen html-scripts $((680 * 1024)) "$work/in.eml"; run html-scripts-680K "$work/in.eml"
gen ampersands $((400 * 1024)) "$work/in.eml"; run ampersands-400K "$work/in.eml"
gen references 0 "$work/in.eml"; run references-40000 "$work/in.eml"
gen nested-rfc822 $((3400 * 1024)) "$work/in.eml"; run nested-rfc822-3.4M "$work/in.eml"
