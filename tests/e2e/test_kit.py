"""The operator's kit: the built man pages render without warnings, the systemd
units in contrib/ pass `systemd-analyze verify`, and the example configuration
contrib/cased.toml names every key that lib/core/config.cpp knows and passes
`cased --check`, both as shipped and with its disabled settings switched on.

CASED_MAN_DIR is the build's man/ directory (casectl.1, cased.8, cased.toml.5)."""

import os
import re
import shutil
import subprocess
import tempfile

from harness import CASECTL, CASED, run_tests
from pgp import Keyring

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CONTRIB = os.path.join(ROOT, "contrib")
PAGES = {"casectl.1": "casectl", "cased.8": "cased", "cased.toml.5": "cased.toml"}
UNITS = ("cased.service", "casectl-digest.service", "casectl-digest.timer")


def man_dir():
    return os.environ["CASED_MAN_DIR"]


def render(path):
    env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
    return subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", path],
                          capture_output=True, env=env, timeout=60)


def test_man_pages_render_without_warnings():
    for page, name in PAGES.items():
        path = os.path.join(man_dir(), page)
        assert os.path.isfile(path), f"{path} was not built"
        p = render(path)
        assert p.returncode == 0, (page, p.returncode, p.stderr)
        assert p.stderr == b"", (page, p.stderr.decode(errors="replace"))
        text = p.stdout.decode()
        assert text.strip(), page
        assert "NAME" in text and "SEE ALSO" in text, page
        assert f"{name} -" in text, page


def test_casectl_page_names_every_command():
    # The commands casectl's --help lists, each documented in casectl(1).
    text = render(os.path.join(man_dir(), "casectl.1")).stdout.decode()
    usage = subprocess.run([CASECTL, "--help"], capture_output=True, timeout=60).stdout.decode()
    parts = re.split(r"^subcommands:$", usage, flags=re.M | re.I)
    assert len(parts) == 2, usage
    commands = re.findall(r"^  (\w+) {2,}", parts[1], re.M)
    assert len(commands) >= 14, usage
    for c in commands:
        assert re.search(rf"^ {{7}}{c}\b", text, re.M), f"casectl(1) has no entry for '{c}'"


def man_tree(tmp):
    """A MANPATH holding the built pages, so that the units' Documentation=man:... resolve."""
    root = os.path.join(tmp, "man")
    for page in PAGES:
        section = os.path.join(root, "man" + page.rsplit(".", 1)[1])
        os.makedirs(section, exist_ok=True)
        shutil.copy(os.path.join(man_dir(), page), section)
    return root


def test_systemd_units_verify():
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing (scripts/install-deps.sh installs systemd)"
    tmp = tempfile.mkdtemp(prefix="cased-kit-")
    try:
        binaries = {"/usr/local/sbin/cased": os.path.abspath(CASED),
                    "/usr/local/bin/casectl": os.path.abspath(CASECTL)}
        for unit in UNITS:
            with open(os.path.join(CONTRIB, unit)) as f:
                text = f.read()
            for installed, built in binaries.items():
                text = text.replace(installed, built)
            for line in text.splitlines():
                if line.startswith(("ExecStart=", "ExecStartPre=")):
                    assert line.split("=", 1)[1].split()[0] in binaries.values(), line
            with open(os.path.join(tmp, unit), "w") as f:
                f.write(text)
        # User=cased need not exist: verify does not resolve users (it only
        # would if the unit asked for DynamicUser), so no account is created.
        env = dict(os.environ, MANPATH=man_tree(tmp), SYSTEMD_LOG_COLOR="0")
        p = subprocess.run(["systemd-analyze", "verify", *UNITS], cwd=tmp, capture_output=True,
                           env=env, timeout=120)
        out = (p.stdout + p.stderr).decode(errors="replace")
        assert p.returncode == 0, out
        # Anything it says about our units is a finding (other units on the
        # host, such as a container's, may draw remarks of their own).
        ours = [l for l in out.splitlines() if any(u in l for u in UNITS) or tmp in l]
        assert not ours, out

        # The same check fails when a binary is missing: the test is not vacuous.
        with open(os.path.join(tmp, "casectl-digest.service")) as f:
            broken = f.read().replace(os.path.abspath(CASECTL), os.path.join(tmp, "no-such-casectl"))
        with open(os.path.join(tmp, "broken.service"), "w") as f:
            f.write(broken)
        p = subprocess.run(["systemd-analyze", "verify", "broken.service"], cwd=tmp, capture_output=True,
                           env=env, timeout=120)
        assert p.returncode != 0, p

        # Timer: weekday mornings, and runs missed while down are caught up.
        with open(os.path.join(CONTRIB, "casectl-digest.timer")) as f:
            timer = f.read()
        assert re.search(r"^OnCalendar=Mon\.\.Fri ", timer, re.M), timer
        assert re.search(r"^Persistent=true$", timer, re.M), timer
        with open(os.path.join(CONTRIB, "casectl-digest.service")) as f:
            service = f.read()
        assert re.search(r"^Type=oneshot$", service, re.M) and re.search(r"^User=cased$", service, re.M)
        assert re.search(r"^ExecStart=\S+/casectl .*digest --send$", service, re.M), service
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_cron_line_runs_the_digest_as_cased():
    with open(os.path.join(CONTRIB, "cron", "casectl-digest")) as f:
        lines = [l for l in f.read().splitlines() if l and not l.startswith("#") and "=" not in l.split()[0]]
    assert len(lines) == 1, lines
    fields = lines[0].split()
    assert fields[5] == "cased" and fields[6].endswith("casectl") and fields[-2:] == ["digest", "--send"], fields


def config_keys():
    """Every key lib/core/config.cpp accepts, as "section.key", from its only_keys() lists."""
    with open(os.path.join(ROOT, "lib", "core", "config.cpp")) as f:
        src = f.read()
    keys = set()
    for section, names in re.findall(r'only_keys\(\s*\*t,\s*"(\w+)",\s*\{([^}]*)\}', src):
        for name in re.findall(r'"(\w+)"', names):
            keys.add(f"{section}.{name}")
    assert len(keys) >= 30, keys
    return keys


def example_keys(text):
    """section.key for every setting in the example, switched on or off."""
    keys, section = set(), None
    for line in text.splitlines():
        m = re.match(r"^#?\[(\w+)\]\s*$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^#?(\w+) = ", line)
        if m and section:
            keys.add(f"{section}.{m.group(1)}")
    return keys


def switched_on(text):
    # A "#" not followed by a space marks a setting that is off.
    return "\n".join(l[1:] if l.startswith("#") and not l.startswith("# ") else l
                     for l in text.splitlines()) + "\n"


def into(tmp, text):
    for prefix in ("/var/lib/cased/", "/run/cased/", "/etc/cased/"):
        text = text.replace(prefix, tmp + "/")
    return text


def check(path):
    return subprocess.run([CASED, "--config", path, "--check"], capture_output=True, timeout=60)


def test_example_config_has_every_key_and_passes_check():
    with open(os.path.join(CONTRIB, "cased.toml")) as f:
        shipped = f.read()
    missing = config_keys() - example_keys(shipped)
    assert not missing, f"contrib/cased.toml does not mention {sorted(missing)}"
    unknown = example_keys(shipped) - config_keys()
    assert not unknown, f"contrib/cased.toml has keys the code does not know: {sorted(unknown)}"

    tmp = tempfile.mkdtemp(prefix="cased-kit-")
    # --check reads every file the configuration names and asks gpg for the alias's key.
    keys = Keyring("Security <security@example.com>", parent=tmp)
    for name in ("imap.pass", "imap-ca.pem", "smtp.pass", "smtp-ca.pem", "ca.pem", "alias-cert.pem", "alias-key.pem"):
        open(os.path.join(tmp, name), "w").close()
    os.chmod(os.path.join(tmp, "alias-key.pem"), 0o600)  # [smime] key: the operator's alone
    try:
        for name, text in (("shipped.toml", shipped), ("all.toml", switched_on(shipped))):
            text = into(tmp, text).replace(tmp + "/gnupg", keys.home)
            assert "/var/lib/cased" not in text and "/run/cased" not in text and "/etc/cased" not in text
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(text)
            p = check(path)
            assert p.returncode == 0, (name, p.stderr.decode(errors="replace"))
            assert p.stdout.decode().strip() == f"cased: configuration {path} is valid", p.stdout
            assert p.stderr == b"", p.stderr

        # With everything on, every key really took effect: casectl reads the
        # same file, creates the database in tmp, and security.txt shows the
        # [securitytxt] values (the clock fixed before securitytxt.expires).
        env = dict(os.environ, CASED_NOW="2027-01-01T00:00:00Z")
        path = os.path.join(tmp, "all.toml")
        p = subprocess.run([CASECTL, "--config", path, "--json", "init"], capture_output=True, env=env, timeout=60)
        assert p.returncode == 0, p.stderr
        assert os.path.exists(os.path.join(tmp, "cases.db"))
        p = subprocess.run([CASECTL, "--config", path, "securitytxt"], capture_output=True, env=env, timeout=60)
        assert p.returncode == 0, p.stderr
        lines = p.stdout.decode().splitlines()
        assert lines[0] == "Contact: mailto:security@example.com", lines
        assert "Expires: 2027-11-23T00:00:00Z" in lines, lines
        assert "Policy: https://example.com/security/policy" in lines, lines
        assert "Canonical: https://example.com/.well-known/security.txt" in lines, lines

        # A key the code does not know is refused, by name: the check has teeth.
        bad = os.path.join(tmp, "bad.toml")
        with open(bad, "w") as f:
            f.write(into(tmp, shipped).replace("[digest]\n", "[digest]\nstale_dayz = 3\n"))
        p = check(bad)
        assert p.returncode == 1 and b"digest.stale_dayz" in p.stderr, p
    finally:
        keys.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_tests(globals())
