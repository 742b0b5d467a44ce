"""A gpg-agent that hangs (SIGSTOP) or dies (SIGKILL) under the daemon's
gpg.home, end to end, with gpg.timeout = 2. While it hangs, PGP mail gets
451 4.3.0 within the bound of 2 x (timeout + 1 s) + 1 s = 7 s (one gpg
operation times out, the agent probe then takes half the timeout, at least
1 s, and a message may queue behind one other that does the same; 1 s of
slack), never "decryption failed";
other PGP messages do not each wait out the time limit on the parser
threads, and plain mail, large or small, is delivered meanwhile. The fault
is logged once. Continued or killed, the agent answers again (gpg starts a
new one) and the next delivery is decrypted, the retried ones stored once."""

import os
import signal
import subprocess
import threading
import time

from faults import assert_idle, check_store, count_lines, deliver_all, deliver_timed, plain
from harness import Env, run_tests, wait_for
from pgp import Keyring, pgp_mime_encrypted, text_entity
from test_pgp_hostile import gpg_decrypting

ALIAS = "security@example.com"
RITA = "Rita Reporter <rita@example.org>"
TIMEOUT = 2
BOUND = 2 * TIMEOUT + 3


class World:
    def __init__(self):
        self.alias = Keyring(ALIAS)
        self.env = Env(extra_config=f'[gpg]\nhome = "{self.alias.home}"\ntimeout = {TIMEOUT}\n[ack]\nenabled = false\n')
        self.rita = Keyring(RITA)
        self.rita.import_key(self.alias.public())
        self.alias.import_key(self.rita.public())

    def encrypted(self, msgid, word):
        data = pgp_mime_encrypted(self.rita, [ALIAS], RITA, msgid, text_entity(f"The widget overflows; {word}.\n"))
        return data, "rita@example.org"

    def decryption(self, word):
        hits = self.env.json("search", word)
        assert len(hits) == 1, (word, hits)
        msgs = [m for m in self.env.json("show", str(hits[0]["id"]))["messages"] if word in m.get("body", "")]
        assert len(msgs) == 1, msgs
        return msgs[0]["decryption"]

    def close(self):
        self.env.cleanup()
        self.alias.close()
        self.rita.close()


def resume(pid):
    """Continues a stopped agent, if there is one left to continue."""
    if pid:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def agent_pid(home):
    out = subprocess.run(["pgrep", "-f", f"gpg-agent --homedir {home}"], capture_output=True, text=True).stdout.split()
    assert out, "no gpg-agent for " + home
    return int(out[0])


def test_a_hung_gpg_agent_defers_pgp_mail_in_bounded_time_and_recovers():
    w = World()
    agent = None
    try:
        w.env.start()
        stored = []
        data, frm = w.encrypted("warm@example.org", "warmword")
        assert deliver_timed(w.env.port, data, BOUND, frm)[0] == 250  # starts the agent
        stored.append("warm@example.org")
        agent = agent_pid(w.alias.home)
        os.kill(agent, signal.SIGSTOP)
        # Six PGP messages at once (three times the parser threads), a large
        # plain message (parsed on the pool) and a small one.
        pgp = {f"hung{i}@example.org": w.encrypted(f"hung{i}@example.org", f"hungword{i}") for i in range(6)}
        mixed = dict(pgp)
        mixed["big@example.org"] = (plain("big@example.org", "bigword", 60000), "bigword@example.org")
        mixed["small@example.org"] = (plain("small@example.org", "smallword"), "smallword@example.org")
        results = deliver_all(w.env.port, mixed, BOUND)
        for msgid in pgp:
            code, line, seconds = results[msgid]
            assert code == 451 and "4.3.0" in line, (msgid, line)
        for msgid in ("big@example.org", "small@example.org"):
            code, line, seconds = results[msgid]
            assert code == 250, (msgid, line)
            # Not queued behind PGP mail that waits out the time limit.
            assert seconds < TIMEOUT + 2.5, (msgid, seconds)
            stored.append(msgid)
        # The parser threads are free again: another plain message at once.
        code, _, seconds = deliver_timed(w.env.port, plain("plain2@example.org", "plainword2", 60000), BOUND,
                                         "plainword2@example.org")
        assert code == 250 and seconds < TIMEOUT, seconds
        stored.append("plain2@example.org")
        log = w.env.log()
        assert count_lines(log, "fault: gpg-agent not answering") == 1, log
        assert count_lines(log, "deferred") == 0, log
        assert_idle(w.env.daemon.pid)
        os.kill(agent, signal.SIGCONT)
        # Continued: the next PGP delivery is decrypted, without a restart.
        pid = w.env.daemon.pid
        for msgid, (data, frm) in pgp.items():  # the MTA's retries
            code, line, _ = deliver_timed(w.env.port, data, BOUND, frm)
            assert code == 250, (msgid, line)
            stored.append(msgid)
        wait_for(lambda: count_lines(w.env.log(), "fault cleared: gpg-agent not answering") == 1, 10, "cleared line")
        for i in range(6):
            assert w.decryption(f"hungword{i}") == "ok"
        assert w.env.daemon.pid == pid and w.env.daemon.poll() is None
        w.env.stop()
        check_store(w.env.db, stored)
        assert count_lines(w.env.log(), "fault: gpg-agent not answering") == 1, w.env.log()
    finally:
        resume(agent)
        w.close()


def test_a_killed_gpg_agent_is_replaced_and_the_next_message_decrypts():
    w = World()
    try:
        w.env.start()
        data, frm = w.encrypted("warm@example.org", "warmword")
        assert deliver_timed(w.env.port, data, BOUND, frm)[0] == 250
        os.kill(agent_pid(w.alias.home), signal.SIGKILL)
        data, frm = w.encrypted("afterkill@example.org", "killword")
        code, line, _ = deliver_timed(w.env.port, data, BOUND, frm)
        assert code == 250, line
        assert w.decryption("killword") == "ok"
        w.env.stop()
        check_store(w.env.db, ["warm@example.org", "afterkill@example.org"])
    finally:
        w.close()


def test_an_agent_killed_while_it_hangs_over_a_message_defers_it_never_fails_it():
    """The agent is stopped while gpg waits on it for a message, then killed:
    gpg loses its agent in the middle of the operation. That is the
    environment's fault: 451 4.3.0 (or, if a new agent answered in time,
    250 decrypted), never a message stored as "decryption failed"."""
    w = World()
    agent = None
    try:
        w.env.start()
        data, frm = w.encrypted("warm@example.org", "warmword")
        assert deliver_timed(w.env.port, data, BOUND, frm)[0] == 250
        stored = ["warm@example.org"]
        agent = agent_pid(w.alias.home)
        os.kill(agent, signal.SIGSTOP)
        data, frm = w.encrypted("midkill@example.org", "midword")
        result = {}

        def send():
            result["r"] = deliver_timed(w.env.port, data, BOUND, frm)

        t = threading.Thread(target=send)
        t.start()
        wait_for(lambda: gpg_decrypting(w.alias.home), 10, "gpg decrypting the message")
        time.sleep(0.3)  # likely asking the stopped agent by now; either outcome below is checked
        os.kill(agent, signal.SIGKILL)
        agent = None
        t.join(BOUND + 10)
        assert not t.is_alive()
        code, line, _ = result["r"]
        if code == 250:
            stored.append("midkill@example.org")
            assert w.decryption("midword") == "ok"
        else:
            assert code == 451 and "4.3.0" in line, line
            code, line, _ = deliver_timed(w.env.port, data, BOUND, frm)  # the MTA's retry
            assert code == 250, line
            stored.append("midkill@example.org")
            assert w.decryption("midword") == "ok"
        w.env.stop()
        check_store(w.env.db, stored)
    finally:
        resume(agent)
        w.close()


def test_started_while_the_agent_hangs_cased_listens_and_defers_only_pgp_mail():
    """cased (re)started while its gpg-agent is stopped: it cannot list its
    secret keys, yet it starts, delivers plain mail and defers PGP mail with
    451 4.3.0; casectl ingest exits 75 (the MTA retries) instead of storing
    the message undecrypted. Continued, the agent decrypts the retry."""
    w = World()
    agent = None
    try:
        w.env.start()
        data, frm = w.encrypted("warm@example.org", "warmword")
        assert deliver_timed(w.env.port, data, BOUND, frm)[0] == 250
        w.env.stop()
        stored = ["warm@example.org"]
        agent = agent_pid(w.alias.home)
        os.kill(agent, signal.SIGSTOP)
        w.env.start()  # listens within the harness's bound
        code, line, _ = deliver_timed(w.env.port, plain("plain@example.org", "plainword"), BOUND,
                                      "plainword@example.org")
        assert code == 250, line
        stored.append("plain@example.org")
        data, frm = w.encrypted("late@example.org", "lateword")
        code, line, _ = deliver_timed(w.env.port, data, BOUND, frm)
        assert code == 451 and "4.3.0" in line, line
        p = w.env.casectl("ingest", input=data, check=False)
        assert p.returncode == 75, (p.returncode, p.stderr)
        assert count_lines(w.env.log(), "fault: gpg-agent not answering") == 1, w.env.log()
        os.kill(agent, signal.SIGCONT)
        agent = None
        code, line, _ = deliver_timed(w.env.port, data, BOUND, frm)  # the MTA's retry
        assert code == 250, line
        stored.append("late@example.org")
        assert w.decryption("lateword") == "ok"
        wait_for(lambda: count_lines(w.env.log(), "fault cleared: gpg-agent not answering") == 1, 10, "cleared line")
        w.env.stop()
        check_store(w.env.db, stored)
    finally:
        resume(agent)
        w.close()


if __name__ == "__main__":
    run_tests(globals())
