"""cased under an operator's hand: `--check` runs every start-up check and
reports each problem on a line of its own, `--check --print` shows the
effective configuration, SIGHUP re-reads the configuration (a bad one is
logged and the old one kept, the daemon serves on), and under systemd it
reports readiness, reloads and stop through NOTIFY_SOCKET."""

import os
import signal
import socket
import subprocess
import tomllib

from harness import CASED, Env, run_tests, wait_for
from lmtp_client import Lmtp, deliver
from pgp import Keyring


def check(config, *extra):
    return subprocess.run([CASED, "--config", config, "--check", *extra], capture_output=True, text=True, timeout=120)


def rewrite(env, old, new):
    with open(env.config) as f:
        text = f.read()
    assert old in text, (old, text)
    with open(env.config, "w") as f:
        f.write(text.replace(old, new, 1))


def lhlo_size(port):
    c = Lmtp(port=port)
    try:
        assert c.reply()[0] == 220
        code, lines = c.cmd("LHLO test.example")
        assert code == 250, lines
        sizes = [l[4:] for l in lines if l[4:].startswith("SIZE ")]
        return int(sizes[0].split()[1])
    finally:
        c.close()


def test_check_reports_every_problem_one_a_line():
    env = Env(listen=["127.0.0.1:99999", "mail.example.com:24", "unix:/nonexistent-dir/lmtp.sock"],
              extra_config=(f'[imap]\nhost = "127.0.0.1"\nsecurity = "none"\nuser = "u"\n'
                            f'password_file = "/nonexistent/imap.pass"\n\n'
                            f'[smtp]\nhost = "127.0.0.1"\nsecurity = "none"\nca_file = "/nonexistent/ca.pem"\n\n'
                            f'[gpg]\nhome = "/nonexistent/gnupg"\n'))
    try:
        p = check(env.config)
        assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
        assert "is valid" not in p.stdout, p.stdout
        lines = p.stderr.splitlines()
        expected = ["lmtp.listen: '127.0.0.1:99999': the port must be a number from 1 to 65535",
                    "lmtp.listen: 'mail.example.com:24': not an IP address",
                    "lmtp.listen: 'unix:/nonexistent-dir/lmtp.sock': the directory /nonexistent-dir does not exist",
                    "imap.password_file: /nonexistent/imap.pass: cannot read",
                    "smtp.ca_file: /nonexistent/ca.pem: cannot read",
                    "gpg.home: /nonexistent/gnupg: no such directory"]
        for e in expected:
            assert sum(e in l for l in lines) == 1, (e, lines)
        assert len(lines) == len(expected), lines

        # The daemon refuses the same address it let through before, without listening.
        p = subprocess.run([CASED, "--config", env.config], capture_output=True, text=True, timeout=60)
        assert p.returncode == 1, (p.returncode, p.stderr)
        assert "'127.0.0.1:99999': the port must be a number from 1 to 65535" in p.stderr, p.stderr
        assert " ready" not in p.stderr, p.stderr
    finally:
        env.cleanup()


def test_check_asks_gpg_for_the_alias_key():
    other = Keyring("Someone Else <else@example.org>")
    alias = Keyring("Security <security@example.com>")
    env = Env(extra_config=f'[gpg]\nhome = "{other.home}"\n')
    try:
        p = check(env.config)
        assert p.returncode == 1, (p.stdout, p.stderr)
        assert f"gpg.home: {other.home}: no secret key for security@example.com" in p.stderr, p.stderr
        rewrite(env, other.home, alias.home)
        p = check(env.config)
        assert p.returncode == 0, (p.stdout, p.stderr)
        assert p.stderr == "", p.stderr
        assert p.stdout.strip() == f"cased: configuration {env.config} is valid", p.stdout
    finally:
        env.cleanup()
        other.close()
        alias.close()


def test_check_print_shows_the_effective_configuration_without_secrets():
    keys = Keyring("Security <security@example.com>")
    env = Env(extra_config=(f'[gpg]\nhome = "{keys.home}"\n\n[imap]\nhost = "127.0.0.1"\nsecurity = "none"\n'
                            f'user = "u"\npassword_file = "PASSFILE"\n'))
    try:
        pass_file = os.path.join(env.dir, "imap.pass")
        with open(pass_file, "w") as f:
            f.write("hunter2-secret\n")
        rewrite(env, "PASSFILE", pass_file)
        p = check(env.config, "--print")
        assert p.returncode == 0, (p.stdout, p.stderr)
        assert "hunter2-secret" not in p.stdout + p.stderr
        printed = tomllib.loads(p.stdout)
        assert printed["imap"]["password_file"] == pass_file, printed
        assert printed["lmtp"]["listen"] == [f"127.0.0.1:{env.port}", f"unix:{env.socket_path}"], printed
        assert printed["lmtp"]["max_message_size"] == 52428800, printed  # a default, filled in
        assert printed["case"]["database"] == env.db, printed
        assert printed["gpg"]["home"] == keys.home, printed
        assert printed["securitytxt"]["expires_days"] == 365, printed
        # The same problems as plain --check when something is wrong; the configuration still printed.
        os.remove(pass_file)
        p = check(env.config, "--print")
        assert p.returncode == 1, (p.stdout, p.stderr)
        assert f"imap.password_file: {pass_file}: cannot read" in p.stderr, p.stderr
    finally:
        env.cleanup()
        keys.close()


def test_missing_gpg_home_is_a_warning_at_start():
    env = Env(extra_config='[gpg]\nhome = "/nonexistent/gnupg"\n')
    try:
        env.start()
        wait_for(lambda: " ready" in env.log(), 20, "the ready line")
        log = env.log()
        warning = [l for l in log.splitlines() if "gpg.home: /nonexistent/gnupg: no such directory" in l]
        assert warning and " warning " in warning[0], log
        assert log.index(warning[0]) < log.index(" ready"), log
        assert deliver(port=env.port, msgid="plain@example.org") == [250]
        env.stop()

        # A gpg.home that exists but holds no secret key: named too.
        empty = os.path.join(env.dir, "gnupg")
        os.mkdir(empty, 0o700)
        rewrite(env, "/nonexistent/gnupg", empty)
        os.remove(env.daemon_log)
        env.start()
        wait_for(lambda: " ready" in env.log(), 30, "the ready line")
        log = env.log()
        assert f"warning gpg.home: {empty}: no secret key" in log, log
        assert log.index("no secret key") < log.index(" ready"), log
        env.stop()
        subprocess.run(["gpgconf", "--homedir", empty, "--kill", "all"], capture_output=True)
    finally:
        env.cleanup()


def test_sighup_reloads_a_valid_configuration_and_keeps_the_old_on_error():
    env = Env(extra_config="")
    try:
        env.start()
        assert lhlo_size(env.port) == 52428800
        # A session opened before the reload keeps its settings.
        before = Lmtp(port=env.port)
        assert before.reply()[0] == 220

        rewrite(env, "[lmtp]\n", "[lmtp]\nmax_message_size = 4096\n")
        env.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "in effect for new sessions" in env.log(), 20, "the reload line")
        assert lhlo_size(env.port) == 4096
        code, lines = before.cmd("LHLO test.example")
        assert code == 250 and lines[-1] == "250 SIZE 52428800", lines
        before.close()

        # A broken file: one line naming the problem, the old configuration stays.
        with open(env.config) as f:
            good = f.read()
        with open(env.config, "w") as f:
            f.write(good.replace("max_message_size = 4096", "max_message_size = 4096\nmax_sesions = 3"))
        env.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in env.log(), 20, "the refusal line")
        refused = [l for l in env.log().splitlines() if "reload refused" in l]
        assert len(refused) == 1 and "lmtp.max_sesions: unknown key" in refused[0], refused
        assert lhlo_size(env.port) == 4096
        assert deliver(port=env.port, msgid="after-bad-reload@example.org") == [250]

        # A key that needs a restart is named as such; the daemon still listens where it did.
        with open(env.config, "w") as f:
            f.write(good.replace(f"127.0.0.1:{env.port}", "127.0.0.1:1"))
        env.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "takes effect only when cased restarts" in env.log(), 20, "the restart warning")
        assert "lmtp.listen changed" in env.log(), env.log()
        assert deliver(port=env.port, msgid="after-listen-change@example.org") == [250]

        assert env.daemon.poll() is None
        env.stop()  # exit 0
        assert "stopped after 2 message(s)" in env.log(), env.log()
    finally:
        env.cleanup()


def test_sd_notify_ready_reload_stop():
    env = Env()
    notify_path = os.path.join(env.dir, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(notify_path)
    sock.settimeout(30)
    log = open(env.daemon_log, "ab")
    daemon = subprocess.Popen([CASED, "--config", env.config], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                              env=dict(os.environ, NOTIFY_SOCKET=notify_path))
    env.daemon = daemon
    try:
        first = sock.recv(4096).decode()
        assert "READY=1" in first.split("\n"), first
        # Ready means listening: the port accepts at once, no retry.
        socket.create_connection(("127.0.0.1", env.port), timeout=5).close()
        assert deliver(path=env.socket_path, msgid="notify@example.org") == [250]

        daemon.send_signal(signal.SIGHUP)
        assert "RELOADING=1" in sock.recv(4096).decode().split("\n")
        assert "READY=1" in sock.recv(4096).decode().split("\n")

        daemon.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in sock.recv(4096).decode().split("\n")
        assert daemon.wait(timeout=60) == 0
        env.daemon = None
    finally:
        sock.close()
        env.cleanup()


if __name__ == "__main__":
    run_tests(globals())
