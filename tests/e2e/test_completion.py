"""Shell completion for casectl (contrib/completion): bash loads it and
completes commands, options and their values; zsh too. The words come from
casectl itself (`casectl help --complete`), and every command `casectl help`
lists and every option its `--help` shows is offered."""

import os
import re
import shlex
import shutil
import subprocess

from harness import CASECTL, run_tests

HERE = os.path.dirname(os.path.abspath(__file__))
CONTRIB = os.path.join(HERE, "..", "..", "contrib", "completion")
BASH_FILE = os.path.join(CONTRIB, "casectl.bash")
ZSH_FILE = os.path.join(CONTRIB, "_casectl")
STATES = {"new", "open", "waiting", "resolved", "rejected"}


def help_commands():
    """The commands `casectl help` lists."""
    out = subprocess.run([CASECTL, "help"], capture_output=True, text=True, check=True).stdout
    section = out.split("Subcommands:", 1)[1]
    return {m.group(1) for m in re.finditer(r"^  (\S+)", section, re.M)}


def help_options(command):
    """The long options `casectl COMMAND --help` shows (without --help)."""
    out = subprocess.run([CASECTL, command, "--help"], capture_output=True, text=True,
                         env=dict(os.environ, CASED_CONFIG="/nonexistent")).stdout
    return set(re.findall(r"^\s+(?:-\w,)?(--[\w-]+)", out, re.M)) - {"--help"}


def bash_complete(*words):
    """COMPREPLY for the command line `casectl WORDS...`, the last word being
    completed (bash splits --opt=VALUE into --opt, =, VALUE, as here)."""
    line = ["casectl", *words]
    script = (f"source {shlex.quote(BASH_FILE)}\n"
              f"COMP_WORDS=({' '.join(shlex.quote(w) for w in [CASECTL, *words])})\n"
              f"COMP_CWORD={len(line) - 1}\n"
              "_casectl\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return set(p.stdout.split())


def test_bash_loads_the_file_and_completes_commands_options_and_values():
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", f"source {shlex.quote(BASH_FILE)}; complete -p casectl"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "complete -F _casectl casectl", (p.stdout, p.stderr)
    commands = help_commands()
    assert {"list", "status", "reply", "export", "backup", "verify"} <= commands, commands
    assert bash_complete("") == commands | {"help"}
    assert bash_complete("st") == {c for c in commands | {"help"} if c.startswith("st")}
    assert bash_complete("--j") == {"--json"}
    assert bash_complete("help", "ex") == {c for c in commands if c.startswith("ex")}
    assert {"--status", "--stale", "--sort"} <= bash_complete("list", "--s")
    assert bash_complete("list", "--sort", "") == {"updated", "created", "id", "embargo"}
    assert bash_complete("list", "--sort", "=", "cr") == {"created"}
    assert bash_complete("list", "--status", "") == STATES
    assert bash_complete("--json", "export", "--format", "") == {"csv", "json"}
    assert bash_complete("status", "7", "") == STATES
    assert bash_complete("status", "7", "re") == {"resolved", "rejected"}
    assert bash_complete("participant", "7", "a@b.c", "--role", "") == {"reporter", "analyst", "vendor", "coordinator"}
    assert bash_complete("keys", "") == {"list", "pin", "export"}
    assert "retry" in bash_complete("outbox", "")
    # Free values and files complete as file names.
    here = os.path.basename(BASH_FILE)
    os.chdir(CONTRIB)
    assert here in bash_complete("--config", "casectl.b")
    assert here in bash_complete("ingest", "--mbox", "casectl.b")


def test_every_command_and_option_casectl_has_is_offered():
    """The completion cannot go stale: whatever casectl gains is offered."""
    table = subprocess.run([CASECTL, "help", "--complete"], capture_output=True, text=True, check=True).stdout
    assert {line.split()[0] for line in table.splitlines() if line} == help_commands()
    for command in help_commands():
        want = help_options(command)
        got = bash_complete(command, "--")
        assert want <= got, (command, want - got)
    # The values of a set come from casectl's own check, e.g. --reason when status has it.
    if "--reason" in help_options("status"):
        reasons = {"fixed", "duplicate", "not-a-vulnerability", "out-of-scope", "wont-fix", "spam", "other"}
        assert bash_complete("status", "7", "resolved", "--reason", "") == reasons


def zsh_complete(*words):
    """What _casectl hands compadd for `casectl WORDS...` (compadd and _files stubbed)."""
    arr = " ".join(shlex.quote(w) for w in [CASECTL, *words])
    script = (
        "compadd() { local p=; while [[ $1 == -* && $1 != -- ]]; do [[ $1 == -P ]] && { p=$2; shift; }; shift; done;"
        " [[ $1 == -- ]] && shift; local w; for w in \"$@\"; do print -r -- \"$p$w\"; done }\n"
        "_files() { print -r -- FILES }\n"
        f"source {shlex.quote(ZSH_FILE)} >/dev/null\n"
        f"words=({arr}); CURRENT={len(words) + 1}\n"
        "_casectl\n")
    p = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    cur = words[-1]
    return {w for w in p.stdout.split() if w.startswith(cur) or w == "FILES"}


def test_zsh_completes_the_same_words():
    if not shutil.which("zsh"):
        print("skip test_zsh_completes_the_same_words: zsh is not installed (scripts/install-deps.sh installs it)")
        return
    with open(ZSH_FILE) as f:
        assert f.readline().strip() == "#compdef casectl"
    commands = help_commands()
    assert zsh_complete("") == commands | {"help"}
    assert zsh_complete("li") == {"list"}
    assert zsh_complete("help", "ex") == {c for c in commands if c.startswith("ex")}
    assert {"--status", "--stale", "--sort"} <= zsh_complete("list", "--s")
    assert zsh_complete("list", "--sort", "") == {"updated", "created", "id", "embargo"}
    assert zsh_complete("list", "--sort=") == {"--sort=updated", "--sort=created", "--sort=id", "--sort=embargo"}
    assert zsh_complete("status", "7", "") == STATES
    assert zsh_complete("export", "--format", "") == {"csv", "json"}
    assert zsh_complete("keys", "") == {"list", "pin", "export"}
    assert zsh_complete("ingest", "--mbox", "") == {"FILES"}
    for command in commands:
        assert help_options(command) <= zsh_complete(command, "--"), command


if __name__ == "__main__":
    run_tests(globals())
