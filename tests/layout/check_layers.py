#!/usr/bin/env python3
"""The layering of lib/ (lib/CMakeLists.txt) holds in the code: a file in
lib/<domain>/ includes only headers of its own domain and of the domains
that domain builds on (DEPS, transitively), and SQL is written only in
lib/store/. Exits 1 naming each violation."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parents[2])
lib = root / "lib"
cmake = (lib / "CMakeLists.txt").read_text()

deps = {}
for m in re.finditer(r"cased_domain\((\w+)(.*?)\)\n", cmake, re.S):
    name, args = m.group(1), m.group(2)
    public = re.search(r"DEPS(.*?)(PRIVATE_DEPS|SOURCES|$)", args, re.S)
    words = public.group(1).split() if public else []
    deps[name] = {w[len("cased_"):] for w in words if w.startswith("cased_")}

def reach(d, seen=None):
    seen = set() if seen is None else seen
    for x in deps.get(d, ()):
        if x not in seen:
            seen.add(x)
            reach(x, seen)
    return seen

problems = []
domains = {p.name for p in lib.iterdir() if p.is_dir()}
for d in sorted(domains - set(deps)):
    problems.append(f"lib/{d}/ is not a domain in lib/CMakeLists.txt")
if list(lib.glob("*.cpp")) + list(lib.glob("*.hpp")):
    problems.append("lib/ has files outside a domain folder")

include = re.compile(r'#include "(\w+)/[\w.]+"')
sql = re.compile(r'"\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|PRAGMA|BEGIN|COMMIT|SAVEPOINT)\b[^"]*"')
for d in sorted(deps):
    allowed = reach(d) | {d}
    for f in sorted((lib / d).glob("*.?pp")):
        text = f.read_text()
        for m in include.finditer(text):
            if m.group(1) not in allowed:
                problems.append(f"{f.relative_to(root)}: includes {m.group(1)}/ (allowed: {', '.join(sorted(allowed))})")
        if d != "store" and sql.search(text):
            problems.append(f"{f.relative_to(root)}: SQL outside lib/store/")
for sub in ("daemon", "cli"):
    for f in sorted((root / sub).glob("*.?pp")):
        if sql.search(f.read_text()):
            problems.append(f"{f.relative_to(root)}: SQL outside lib/store/")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
