#!/usr/bin/python3
"""Hostile mail of a chosen size, for tests/bench/hostile_bench.sh and the
fuzz seeds (tests/fuzz/make_seeds.py).

    hostile_gen.py KIND SIZE OUT      (SIZE in bytes; 1M, 8M, 50M accepted)

KIND is one of:
  plain        a plain text message (the yardstick)
  deep         nested message/rfc822 headers, one level per 30 bytes
  tinyparts    multipart/mixed with very many tiny parts
  nested       multiparts nested in multiparts, a few bytes each
  html         text/html with many <script>/<style> tags and ampersands
  references   a References header with very many Message-IDs
The output has CRLF line ends and no line starting with a dot.
"""
import sys

HEAD = (
    "From: Rita Reporter <rita@example.org>\r\n"
    "To: security@example.com\r\n"
    "Subject: {subject}\r\n"
    "Date: Mon, 30 Nov 2026 05:00:00 +0000\r\n"
    "Message-ID: <{kind}-{size}@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
)


def head(kind, size, extra=""):
    return HEAD.format(subject=f"hostile {kind} {size}", kind=kind, size=size) + extra


def repeat_to(unit, size, prefix, suffix=""):
    """prefix + unit * n + suffix, with n as large as fits `size`."""
    n = max(1, (size - len(prefix) - len(suffix)) // len(unit))
    return prefix + unit * n + suffix


def plain(size):
    line = "The quick brown fox jumps over the lazy dog, and the lazy dog minds.\r\n"
    return repeat_to(line, size, head("plain", size, "Content-Type: text/plain; charset=utf-8\r\n\r\n"))


def deep(size):
    unit = "Content-Type: message/rfc822\r\n\r\n"
    return repeat_to(unit, size, head("deep", size, unit), "Subject: bottom\r\n\r\nbottom\r\n")


def tinyparts(size):
    part = "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    return repeat_to(part, size, head("tinyparts", size, 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'),
                     "--b--\r\n")


def nested(size):
    # Each level opens a new boundary inside the last; the closings follow.
    out = [head("nested", size, 'Content-Type: multipart/mixed; boundary="n0"\r\n\r\n')]
    used, level = len(out[0]), 0
    while True:
        opener = f'--n{level}\r\nContent-Type: multipart/mixed; boundary="n{level + 1}"\r\n\r\n'
        closer = f"--n{level + 1}--\r\n"
        if used + len(opener) + len(closer) + 40 > size:
            break
        out.append(opener)
        used += len(opener) + len(closer)
        level += 1
    out.append(f"--n{level}\r\nContent-Type: text/plain\r\n\r\nbottom\r\n")
    out.extend(f"--n{k}--\r\n" for k in range(level, -1, -1))
    return "".join(out)


def html(size):
    unit = "<script>x</script><style>y</style><p>a &amp; b &lt; c &gt; d & e &#65;&#x42;</p>\r\n"
    return repeat_to(unit, size, head("html", size, "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body>\r\n"),
                     "</body></html>\r\n")


def references(size):
    ids, used, n = [], 0, 0
    prefix = head("references", size)
    budget = size - len(prefix) - 64
    while used < budget:
        ref = f" <ref{n}.{n * 7919 % 100003}@example.org>\r\n"
        ids.append(ref)
        used += len(ref)
        n += 1
    return prefix + "References:" + "".join(ids) + "Content-Type: text/plain\r\n\r\nsee above\r\n"


KINDS = {"plain": plain, "deep": deep, "tinyparts": tinyparts, "nested": nested, "html": html,
         "references": references}


def parse_size(s):
    mult = {"K": 1024, "M": 1024 * 1024}.get(s[-1].upper(), 1)
    return int(s[:-1] if mult > 1 else s) * mult


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in KINDS:
        sys.exit(__doc__)
    text = KINDS[sys.argv[1]](parse_size(sys.argv[2]))
    with open(sys.argv[3], "wb") as f:
        f.write(text.encode("utf-8"))


if __name__ == "__main__":
    main()
