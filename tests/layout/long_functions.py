#!/usr/bin/env python3
"""Lists the functions in lib/, daemon/ and cli/ longer than a limit
(default 80 lines), longest first. A rough reader: a function is a line that
opens a brace at nesting depth 0 (or 1 inside a namespace) and its length
runs to the matching brace; string and character literals and comments are
skipped. Usage: long_functions.py [ROOT] [--limit N] [--check]
With --check it exits 1 when any function there is over the limit."""
import argparse
import pathlib
import re

def strip(text):
    # Blank out comments and literals, keeping line breaks.
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif c in "\"'" and not (c == "'" and i > 0 and text[i - 1].isalnum()):  # 60'000 is a number
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(" " * (j + 1 - i)); i = j + 1
        else:
            out.append(c); i += 1
    return "".join(out)

def functions(path):
    code = strip(path.read_text())
    lines = code.split("\n")
    depth, ns_depth, start, name = 0, [], None, None
    for no, line in enumerate(lines, 1):
        for ch in line:
            if ch == "{":
                head = " ".join(lines[max(0, no - 3):no])
                if start is None and re.search(r"\bnamespace\b[^;{}]*$", line.split("{")[0] + " ") and "(" not in line:
                    ns_depth.append(depth)
                elif start is None and depth == len(ns_depth) and "(" in head and not re.search(r"\b(struct|class|enum|union)\b[^;()]*$", line):
                    start = no
                    m = re.findall(r"([\w:~]+)\s*\(", head)
                    name = m[0] if m else "?"
                depth += 1
            elif ch == "}":
                depth -= 1
                if ns_depth and depth == ns_depth[-1]:
                    ns_depth.pop()
                elif start is not None and depth == len(ns_depth):
                    yield name, start, no - start + 1
                    start = None

ap = argparse.ArgumentParser()
ap.add_argument("root", nargs="?", default=str(pathlib.Path(__file__).parents[2]))
ap.add_argument("--limit", type=int, default=80)
ap.add_argument("--check", action="store_true")
a = ap.parse_args()
root = pathlib.Path(a.root)
rows = []
for sub in ("lib", "daemon", "cli"):
    for f in sorted((root / sub).rglob("*.cpp")):
        for name, start, length in functions(f):
            if length > a.limit:
                rows.append((length, f"{f.relative_to(root)}:{start}", name))
for length, where, name in sorted(rows, reverse=True):
    print(f"{length:5d}  {where}  {name}")
raise SystemExit(1 if a.check and rows else 0)
