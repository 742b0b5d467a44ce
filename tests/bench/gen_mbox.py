#!/usr/bin/env python3
"""An mbox of a large PSIRT archive for `casectl ingest --mbox` (scale_bench.sh).

    gen_mbox.py --messages 1000000 [--cases 100000] [--seed 1] --out FILE

Cases are threads of varied length (1 to 80 scaled to the mean, about ten:
1 to 52 messages at the default ratio),
each reply naming its parent in In-Reply-To and the thread in References, so
the whole thread lands in one case. Messages of all threads are interleaved
in time, a parent always before its replies. About 5% carry a base64
attachment of 2-8 KB. The text follows a Zipf law over a vocabulary of made-up
words, so some words are in nearly every message and most are rare; besides:

  - "version" is in every message (the very common word of the benchmark);
  - "kestrelfjord" is in one message of 50,000 (the rare word);
  - each message has two words of a vocabulary of 200,000 others, each of
    those in about ten messages of a million.

The same arguments give the same bytes. It prints what it wrote to stderr.
"""

import argparse
import base64
import bisect
import itertools
import random
import sys
import time

COMMON_WORD = "version"
RARE_WORD = "kestrelfjord"
RARE_EVERY = 50_000
THREAD_LENGTHS = [1, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 40, 80]
SYLLABLES = ["ka", "lo", "mi", "ne", "tor", "vas", "pel", "dri", "qu", "ox", "sen", "bar", "fi", "gul", "rem",
             "sta", "wen", "zo", "hal", "ict", "mor", "pra", "tun", "yel"]
START = 1_700_000_000          # the archive's first message (Nov 2023)
SPAN = 3 * 365 * 86400         # over three years


def word(n):
    """The n-th made-up word: a-z only, never 'from' (mbox) and never a common English word."""
    out = []
    n += 1
    while n:
        n, r = divmod(n, len(SYLLABLES))
        out.append(SYLLABLES[r])
    return "".join(out) + "x"


class Text:
    """Paragraphs drawn once from a Zipf vocabulary; messages combine them."""

    def __init__(self, rng, vocabulary=30_000, paragraphs=4000):
        words = [word(i) for i in range(vocabulary)]
        weights = list(itertools.accumulate(1.0 / (i + 1) for i in range(vocabulary)))
        self.paragraphs = []
        for _ in range(paragraphs):
            n = rng.randint(30, 90)
            ws = [words[bisect.bisect(weights, rng.random() * weights[-1])] for _ in range(n)]
            ws[0] = ws[0].capitalize()
            lines, line = [], ""
            for w in ws:
                if len(line) + len(w) > 70:
                    lines.append(line)
                    line = ""
                line = f"{line} {w}" if line else w
            lines.append(line + ".")
            self.paragraphs.append("\n".join(lines))
        self.rare = [word(vocabulary + i) for i in range(200_000)]

    def body(self, rng, serial, quote):
        parts = ["Hello,"]
        if quote:
            parts.append("\n".join("> " + line for line in quote.split("\n")))
        parts += [rng.choice(self.paragraphs) for _ in range(rng.randint(3, 7))]
        marker = f" {RARE_WORD}" if serial % RARE_EVERY == 7 else ""
        parts.append(f"Affected {COMMON_WORD} {rng.randint(1, 9)}.{rng.randint(0, 30)}, see "
                     f"{rng.choice(self.rare)} and {rng.choice(self.rare)}{marker}.")
        parts.append("Regards")
        return "\n\n".join(parts) + "\n"


def thread_lengths(rng, messages, cases):
    """Lengths that sum to `messages` over `cases` threads, varied around the mean."""
    scale = messages / cases / (sum(THREAD_LENGTHS) / len(THREAD_LENGTHS))
    lengths = [max(1, round(rng.choice(THREAD_LENGTHS) * scale)) for _ in range(cases)]
    total = sum(lengths)
    i = 0
    while total != messages:  # nudge to the exact total, one message at a time
        j = i % cases
        if total < messages:
            lengths[j] += 1
            total += 1
        elif lengths[j] > 1:
            lengths[j] -= 1
            total -= 1
        i += 1
    return lengths


def schedule(rng, lengths):
    """(time, case, index) for every message, in time order; replies after their parent."""
    out = []
    for case, n in enumerate(lengths):
        t = START + rng.randrange(SPAN - 90 * 86400)
        for i in range(n):
            out.append((t, case, i))
            t += rng.randint(600, 5 * 86400)
    out.sort()
    return out


def rfc5322_date(t):
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))


def attachment(rng, boundary, text):
    data = base64.encodebytes(rng.randbytes(rng.randint(2048, 8192))).decode()
    return (f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\n\n"
            f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n{text}\n"
            f"--{boundary}\nContent-Type: application/octet-stream\n"
            f"Content-Disposition: attachment; filename=\"poc-{boundary}.bin\"\n"
            f"Content-Transfer-Encoding: base64\n\n{data}--{boundary}--\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, required=True)
    ap.add_argument("--cases", type=int, help="threads (default: messages / 10)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--attachments", type=float, default=0.05, help="fraction with an attachment")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    cases = a.cases or max(1, a.messages // 10)
    if cases > a.messages:
        ap.error("more cases than messages")
    rng = random.Random(a.seed)
    text = Text(rng)
    lengths = thread_lengths(rng, a.messages, cases)
    reporters = [f"reporter{i}@researcher{i % 997}.example" for i in range(cases // 5 + 1)]
    subjects = [" ".join(rng.choice(text.paragraphs).split()[:6]).rstrip(".") for _ in range(5000)]
    last_text = {}
    size = 0
    attached = 0
    with open(a.out, "w", encoding="utf-8", newline="\n") as out:
        for serial, (t, case, i) in enumerate(schedule(rng, lengths)):
            reporter = reporters[case % len(reporters)]
            frm = reporter if i % 2 == 0 else f"analyst{case % 7}@vendor{case % 31}.example"
            subject = f"{'Re: ' if i else ''}Issue {case}: {subjects[case % len(subjects)]}"
            mid = f"t{case}.{i}@gen.example"
            head = [f"From {frm.split('@')[0]}@example {time.asctime(time.gmtime(t))}",
                    f"From: {frm}", "To: security@example.com", f"Subject: {subject}",
                    f"Date: {rfc5322_date(t)}", f"Message-ID: <{mid}>", "MIME-Version: 1.0"]
            if i:
                refs = " ".join(f"<t{case}.{k}@gen.example>" for k in range(max(0, i - 10), i))
                head += [f"In-Reply-To: <t{case}.{i - 1}@gen.example>", f"References: {refs}"]
            body = text.body(rng, serial, last_text.pop(case, None) if i else None)
            if i + 1 < lengths[case]:
                last_text[case] = body.split("\n\n")[1 if i == 0 else 2]
            if rng.random() < a.attachments:
                attached += 1
                content = attachment(rng, f"b{case}x{i}", body)
            else:
                content = "Content-Type: text/plain; charset=utf-8\n\n" + body
            msg = "\n".join(head) + "\n" + content + "\n"
            size += len(msg)
            out.write(msg)
    print(f"{a.messages} messages, {cases} cases, {attached} with an attachment, {size / 1e6:.1f} MB "
          f"(mean {size / a.messages:.0f} bytes) to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
