"""A scripted $EDITOR for test_reply_editor.py: records what it found (the
draft's path, its directory's and its own mode, its text) in $EDIT_LOG, then
does what $EDIT_MODE says: append (the reply text in $EDIT_TEXT), replace
(the whole file becomes $EDIT_TEXT), unchanged, empty, fail (exit 3) or hang
(until killed, at most 60 s)."""

import json
import os
import stat
import sys
import time

path = sys.argv[-1]
directory = os.path.dirname(path)
info = {
    "argv": sys.argv[1:],
    "path": path,
    "dir": directory,
    "dir_mode": stat.S_IMODE(os.stat(directory).st_mode),
    "file_mode": stat.S_IMODE(os.stat(path).st_mode),
    "text": open(path, encoding="utf-8").read(),
    "stdin_tty": os.isatty(0),
    "pid": os.getpid(),
    # A job of its own, in the terminal's foreground when casectl had it there.
    "own_group": os.getpgrp() != os.getsid(0),
    "foreground": os.tcgetpgrp(0) == os.getpgrp(),
}
log = os.environ["EDIT_LOG"]
with open(log + ".tmp", "w") as f:
    json.dump(info, f)
os.rename(log + ".tmp", log)
mode = os.environ.get("EDIT_MODE", "append")
if mode == "append":
    with open(path, "a", encoding="utf-8") as f:
        f.write(os.environ["EDIT_TEXT"])
elif mode == "replace":
    with open(path, "w", encoding="utf-8") as f:
        f.write(os.environ["EDIT_TEXT"])
elif mode == "empty":
    open(path, "w").close()
elif mode == "fail":
    sys.exit(3)
elif mode == "hang":
    # Beside the draft, as vi's swap file would be.
    open(os.path.join(directory, ".reply.eml.swp"), "w").close()
    time.sleep(60)
