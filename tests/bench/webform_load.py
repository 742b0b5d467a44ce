#!/usr/bin/env python3
"""The web form under load (docs/benchmarks.md, "The web form under load"):
a cased with [web] on loopback (rate_per_hour raised to 1,000,000 for the
run), N submissions (default 1,000) posted over C keep-alive connections
(default 16), each a multipart report with a small attachment. Every POST
must answer 200 with a receipt; then the store must hold exactly N cases,
each title once, each with its attachment, and N distinct receipts.
Bounded: every request has a 60 s timeout, the daemon is stopped by pid.
Not part of ctest.
    tests/bench/webform_load.py CASED CASECTL [N] [C]"""

import concurrent.futures
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

cased, casectl = sys.argv[1], sys.argv[2]
total = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
conns = int(sys.argv[4]) if len(sys.argv) > 4 else 16


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


work = tempfile.mkdtemp(prefix="cased-webload-")
db = os.path.join(work, "cases.db")
lmtp, web = free_port(), free_port()
config = os.path.join(work, "cased.toml")
with open(config, "w") as f:
    f.write(f'[case]\ndatabase = "{db}"\nalias = "security@example.com"\n\n[lmtp]\nlisten = ["127.0.0.1:{lmtp}"]\n\n'
            f'[gpg]\nhome = "{work}/gnupg"\n\n[web]\nlisten = ["127.0.0.1:{web}"]\nrate_per_hour = 1000000\n')
os.mkdir(os.path.join(work, "gnupg"), 0o700)
log = open(os.path.join(work, "cased.log"), "wb")
daemon = subprocess.Popen([cased, "--config", config], stdout=log, stderr=log)


def up():
    try:
        socket.create_connection(("127.0.0.1", web), timeout=0.5).close()
        return True
    except OSError:
        return False


deadline = time.monotonic() + 30
while not up():
    assert daemon.poll() is None and time.monotonic() < deadline, "cased did not start"
    time.sleep(0.05)


def multipart(fields, boundary):
    out = b""
    for name, value, filename in fields:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def worker(index):
    """One keep-alive connection: GET / for the cookie and token, then its share of POSTs."""
    c = http.client.HTTPConnection("127.0.0.1", web, timeout=60)
    c.request("GET", "/")
    r = c.getresponse()
    page = r.read().decode()
    cookie = r.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    results = []
    for n in range(index, total, conns):
        boundary = f"----load{n}"
        body = multipart([("csrf", token.encode(), None), ("title", f"load report {n}".encode(), None),
                          ("description", f"body of report {n}\n".encode() * 20, None),
                          ("attachment", os.urandom(2048), f"poc{n}.bin")], boundary)
        start = time.monotonic()
        c.request("POST", "/report", body, {"Content-Type": f"multipart/form-data; boundary={boundary}",
                                            "Cookie": cookie})
        r = c.getresponse()
        text = r.read().decode()
        ms = (time.monotonic() - start) * 1000
        code = re.search(r'<code>([A-Z0-9-]+)</code>', text)
        results.append((n, r.status, code.group(1) if code else None, ms))
    c.close()
    return results


started = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(conns) as pool:
    results = [x for part in pool.map(worker, range(conns)) for x in part]
elapsed = time.monotonic() - started
daemon.send_signal(signal.SIGTERM)
daemon.wait(timeout=60)

statuses = {}
for _, status, _, _ in results:
    statuses[status] = statuses.get(status, 0) + 1
receipts = {code for _, _, code, _ in results if code}
con = sqlite3.connect(db)
cases = con.execute("SELECT count(*) FROM cases").fetchone()[0]
titles = con.execute("SELECT count(DISTINCT subject), count(*) FROM cases").fetchone()
web_rows = con.execute("SELECT count(DISTINCT receipt) FROM web_reports").fetchone()[0]
files = con.execute("SELECT count(*) FROM attachments").fetchone()[0]
lat = sorted(ms for *_, ms in results)
print(json.dumps({"submissions": total, "connections": conns, "seconds": round(elapsed, 2),
                  "per_second": round(total / elapsed, 1), "statuses": statuses,
                  "latency_ms": {"median": round(statistics.median(lat), 1),
                                 "p99": round(lat[int(len(lat) * 0.99) - 1], 1), "max": round(lat[-1], 1)},
                  "cases": cases, "distinct_titles": titles[0], "receipts_answered": len(receipts),
                  "receipts_stored": web_rows, "attachments": files}))
ok = statuses == {200: total} and cases == total == titles[0] and len(receipts) == total == web_rows and files == total
subprocess.run(["rm", "-rf", work])
sys.exit(0 if ok else 1)
