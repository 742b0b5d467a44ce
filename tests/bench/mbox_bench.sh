#!/usr/bin/env bash
# `casectl ingest --mbox` throughput and peak RSS. Generates an mbox of
# MESSAGES plain-text messages of about SIZE bytes each (default 20000 of
# 4096), THREAD messages per case (the first opens it, the others answer it
# with In-Reply-To and References), bodies of words drawn from a fixed
# vocabulary with a Zipf-like spread (a few words in every message, most
# rare, as in real mail; the search index sees both). Then imports it into a
# fresh database RUNS times (default 1) and prints one line per run:
# messages/s, seconds, casectl's CPU time (user + system: on a shared
# machine the wall clock also counts other processes' turns) and peak RSS. Checks that every message
# was stored and indexed for search. Not part of ctest.
#   tests/bench/mbox_bench.sh [build-dir]        (default build/release)
# Env: MESSAGES, SIZE, THREAD (default 10), RUNS, KEEP_MBOX (a path: the mbox
# is written there once and reused by later runs).
set -euo pipefail
build=$(realpath "${1:-build/release}")
messages=${MESSAGES:-20000}
size=${SIZE:-4096}
thread=${THREAD:-10}
runs=${RUNS:-1}
work=$(mktemp -d /tmp/cased-mbox-XXXXXX)
trap 'rm -rf "$work"' EXIT

mbox=${KEEP_MBOX:-$work/box.mbox}
if [ ! -s "$mbox" ]; then
  python3 - "$messages" "$size" "$thread" > "$mbox" <<'PY'
import random, sys
n, size, thread = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(14)
letters = "abcdefghijklmnopqrstuvwxyz"
vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 10))) for _ in range(20000)]
weights = [1.0 / (i + 1) for i in range(len(vocab))]
cum, total = [], 0.0
for w in weights:
    total += w
    cum.append(total)
out = sys.stdout
for i in range(n):
    root = i - i % thread
    mid = f"<m{i}.bench@reporter.example>"
    head = [f"From rita{root % 97}@reporter.example Mon Nov 30 10:00:00 2026",
            f"From: Rita {root % 97} <rita{root % 97}@reporter.example>",
            "To: security@example.com",
            f"Subject: {'Re: ' if i != root else ''}overflow in parser {root}",
            f"Date: Mon, 30 Nov 2026 10:{i % 60:02d}:00 +0000",
            f"Message-ID: {mid}"]
    if i != root:
        head.append(f"In-Reply-To: <m{root}.bench@reporter.example>")
        head.append(f"References: <m{root}.bench@reporter.example>")
    head += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii", ""]
    text = "\n".join(head) + "\n"
    lines, line, length = [], [], len(text)
    words = rng.choices(vocab, cum_weights=cum, k=size // 4)
    for w in words:
        if length >= size - 1:
            break
        line.append(w)
        length += len(w) + 1
        if len(line) == 12:
            lines.append(" ".join(line))
            line = []
    if line:
        lines.append(" ".join(line))
    body = "\n".join(lines)
    out.write(text + body[: max(0, size - len(text) - 1)] + "\n\n")
PY
fi

echo "| run | messages | bytes | seconds | msg/s | CPU seconds | msg per CPU second | peak RSS |"
echo "|---|---|---|---|---|---|---|---|"
for run in $(seq "$runs"); do
  dir=$work/run-$run
  mkdir -p "$dir/gnupg" && chmod 700 "$dir/gnupg"
  printf '[case]\ndatabase = "%s/cases.db"\nalias = "security@example.com"\n[ack]\nenabled = false\n[gpg]\nhome = "%s/gnupg"\n' \
    "$dir" "$dir" > "$dir/cased.toml"
  "$build/casectl" --config "$dir/cased.toml" init > /dev/null
  start=$(date +%s.%N)
  /usr/bin/time -f "%M %U %S" -o "$dir/kb" "$build/casectl" --config "$dir/cased.toml" ingest --mbox "$mbox" > "$dir/out"
  end=$(date +%s.%N)
  stored=$(sqlite3 "$dir/cases.db" 'SELECT count(*) FROM messages')
  [ "$stored" -eq "$messages" ] || { echo "stored $stored of $messages: $(cat "$dir/out")" >&2; exit 1; }
  indexed=$(sqlite3 "$dir/cases.db" 'SELECT indexed_upto FROM search_progress')
  last=$(sqlite3 "$dir/cases.db" 'SELECT max(id) FROM messages')
  [ "$indexed" -ge "$last" ] || { echo "indexed up to $indexed of $last" >&2; exit 1; }
  read -r kb user sys < "$dir/kb"
  python3 -c "import sys; n,s,e,kb,b,cpu=int(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3]),int(sys.argv[4]),int(sys.argv[5]),float(sys.argv[7])+float(sys.argv[8]); print(f'| {sys.argv[6]} | {n} | {b} | {e-s:.2f} | {n/(e-s):.0f} | {cpu:.2f} | {n/cpu:.0f} | {kb//1024} MB |')" \
    "$messages" "$start" "$end" "$kb" "$(stat -c %s "$mbox")" "$run" "$user" "$sys"
  rm -f "$dir"/cases.db*
done
