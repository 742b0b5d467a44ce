"""The reminder digest, security.txt and key publishing, with a fixed clock
(CASED_NOW): every digest section, embargo warnings, grouping by assignee,
and --send through a real STARTTLS SMTP server, signature verified."""

import email
import email.policy
import os
import subprocess
import sys

from harness import SKIP, need_test_hooks, run_tests, wait_for
from pgp import Keyring, gpg
from test_outbound import World, wait_for_mail

NOW = "2026-11-23T09:00:00Z"
TEAM = "psirt-team@example.com"


def msg(msgid, subject, frm="rita@example.org"):
    return (f"From: {frm}\r\nTo: security@example.com\r\nSubject: {subject}\r\nMessage-ID: <{msgid}>\r\n"
            f"Date: Sun, 01 Nov 2026 09:00:00 +0000\r\nAuto-Submitted: auto-generated\r\n\r\nreport text\r\n").encode()


def at(when):
    return {"CASED_NOW": when}


def populate(env):
    """Six cases whose history happened at fixed times; see each comment."""
    c = env.casectl
    # 1: new and unassigned since Nov 1, so also stale.
    c("ingest", input=msg("c1@x", "Old unassigned report"), env=at("2026-11-01T09:00:00Z"))
    # 2: alice's, waiting since Nov 21: waiting, not stale.
    c("ingest", input=msg("c2@x", "Waiting on the vendor"), env=at("2026-11-20T09:00:00Z"))
    c("assign", "2", "alice", env=at("2026-11-21T09:00:00Z"))
    c("status", "2", "waiting", env=at("2026-11-21T09:00:00Z"))
    # 3: bob's, open, embargo ends in 4 days.
    c("ingest", input=msg("c3@x", "Embargo soon"), env=at("2026-11-22T09:00:00Z"))
    c("assign", "3", "bob", env=at("2026-11-22T09:00:00Z"))
    c("set", "3", "--embargo", "2026-11-27", env=at("2026-11-22T09:00:00Z"))
    # 4: alice's, open since Nov 10, embargo ended Nov 20: embargo and stale.
    c("ingest", input=msg("c4@x", "Embargo passed"), env=at("2026-11-10T09:00:00Z"))
    c("assign", "4", "alice", env=at("2026-11-10T09:00:00Z"))
    c("set", "4", "--embargo", "2026-11-20", env=at("2026-11-10T09:00:00Z"))
    # 5: resolved, with a past embargo: nowhere.
    c("ingest", input=msg("c5@x", "Resolved one"), env=at("2026-11-02T09:00:00Z"))
    c("assign", "5", "bob", env=at("2026-11-02T09:00:00Z"))
    c("set", "5", "--embargo", "2026-11-03", env=at("2026-11-02T09:00:00Z"))
    c("status", "5", "resolved", env=at("2026-11-03T09:00:00Z"))
    # 6: bob's, open, active yesterday, embargo far ahead: nowhere.
    c("ingest", input=msg("c6@x", "Far embargo"), env=at("2026-11-22T09:00:00Z"))
    c("assign", "6", "bob", env=at("2026-11-22T09:00:00Z"))
    c("set", "6", "--embargo", "2027-01-10", env=at("2026-11-22T09:00:00Z"))


def ids(section):
    return [c["id"] for c in section]


def test_each_section_with_a_fixed_clock():
    w = World()
    try:
        assert w.env.casectl("init").returncode == 0  # digest reads; it creates nothing
        empty = w.env.casectl("digest", env=at(NOW))
        assert empty.returncode == 0
        assert empty.stdout.decode().strip() == "Nothing to report: no new, stale, waiting or embargoed cases."
        populate(w.env)
        d = w.env.json("digest", env=at(NOW))
        s = d["sections"]
        assert d["generated"] == NOW and d["stale_days"] == 7
        assert ids(s["new-unassigned"]) == [1]
        assert ids(s["waiting"]) == [2]
        # Grouped by assignee (alice, then unassigned last), oldest first.
        assert ids(s["stale"]) == [4, 1]
        # Earliest embargo first within a group; alice before bob.
        assert ids(s["embargo"]) == [4, 3]
        assert s["embargo"][0]["embargo"] == "2026-11-20"
        text = w.env.casectl("digest", env=at(NOW)).stdout.decode()
        assert "embargo ENDED 2026-11-20 (3d ago)" in text
        assert "embargo ends 2026-11-27 (in 4d)" in text
        assert "Embargo passed" in text and "Old unassigned report" in text
        assert "Resolved one" not in text and "Far embargo" not in text
        # Each section lists its cases under their assignee's name.
        emb = text[text.index("Embargo ending"):text.index("New and unassigned")]
        assert emb.index("  alice\n") < emb.index("[CASE#4]") < emb.index("  bob\n") < emb.index("[CASE#3]")
        # Five days before case 6's embargo it joins; resolved case 5 never does.
        later = w.env.json("digest", env=at("2027-01-05T09:00:00Z"))["sections"]
        assert 6 in ids(later["embargo"]) and 5 not in ids(later["embargo"])
    finally:
        w.close()


def test_securitytxt_expiry_warns_in_the_digest():
    w = World()
    try:
        assert w.env.casectl("init").returncode == 0
        with open(w.env.config, "a") as f:
            f.write('\n[securitytxt]\nexpires = "2026-12-10T00:00:00Z"\n')
        out = w.env.casectl("digest", env=at(NOW)).stdout.decode()
        assert out.startswith("WARNING: security.txt expires on 2026-12-10 (in 16 days)")
        assert "Nothing to report" in out
        assert "security.txt" in w.env.json("digest", env=at(NOW))["warnings"][0]
        assert w.env.json("digest", env=at("2026-11-01T00:00:00Z"))["warnings"] == []
        expired = w.env.casectl("digest", env=at("2026-12-11T00:00:00Z")).stdout.decode()
        assert "security.txt expired on 2026-12-10" in expired
    finally:
        w.close()


def verify_signed(w, raw):
    """multipart/signed: returns the signed text after checking the signature with the alias key."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/signed", msg.get_content_type()
    body, sig = msg.get_payload()
    signed = body.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    team = Keyring(TEAM)
    try:
        team.import_key(w.alias.public())
        sig_path = os.path.join(w.tmp, "digest.sig")
        data_path = os.path.join(w.tmp, "digest.txt")
        with open(sig_path, "wb") as f:
            f.write(sig.get_payload(decode=True))
        with open(data_path, "wb") as f:
            f.write(signed)
        p = gpg(team.home, "--status-fd", "2", "--verify", sig_path, data_path, check=False)
        assert p.returncode == 0 and f"VALIDSIG {w.alias.fpr}" in p.stderr.decode(), p.stderr.decode()
    finally:
        team.close()
    return body.get_payload(decode=True).decode()


def test_send_without_the_team_key_is_signed_and_bare():
    w = World(smtp_extra="")
    try:
        with open(w.env.config, "a") as f:
            f.write(f'\n[digest]\nstale_days = 7\nto = "{TEAM}"\n')
        w.smtp.start()
        populate(w.env)
        p = w.env.casectl("digest", "--send", env=at(NOW))
        printed = p.stdout.decode()
        for subject in ("Old unassigned report", "Waiting on the vendor", "Embargo soon", "Embargo passed"):
            assert subject not in printed
        assert "[CASE#4]" in printed and "2026-11-20" not in printed
        wait_for_mail(w.smtp, 1)
        raw, envelope = w.smtp.messages()[0]
        assert envelope["tls"] is True and envelope["to"] == [TEAM]
        text = verify_signed(w, raw)
        assert "[CASE#1]" in text and "[CASE#3]" in text
        for subject in ("Old unassigned report", "Waiting on the vendor", "Embargo soon", "Embargo passed"):
            assert subject not in text and subject.encode() not in raw
    finally:
        w.close()


def test_send_with_the_team_key_is_encrypted_and_complete():
    w = World()
    team = Keyring(TEAM)
    try:
        with open(w.env.config, "a") as f:
            f.write(f'\n[digest]\nto = "{TEAM}"\n')
        gpg(w.alias.home, "--import", input=team.public())
        team.import_key(w.alias.public())
        w.smtp.start()
        populate(w.env)
        printed = w.env.casectl("digest", "--send", env=at(NOW)).stdout.decode()
        assert "Embargo passed" not in printed  # cron mails what it prints
        wait_for_mail(w.smtp, 1)
        raw, _ = w.smtp.messages()[0]
        assert b"Embargo passed" not in raw
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        assert msg.get_content_type() == "multipart/encrypted"
        cipher = msg.get_payload()[1].get_payload(decode=True)
        p = gpg(team.home, "--status-fd", "2", "--decrypt", input=cipher)
        status = p.stderr.decode()
        assert f"VALIDSIG {w.alias.fpr}" in status, status
        inner = email.message_from_bytes(p.stdout, policy=email.policy.compat32)
        plain = next(part.get_payload(decode=True).decode() for part in inner.walk()
                     if part.get_content_type() == "text/plain")
        assert "Embargo passed" in plain and "embargo ENDED 2026-11-20" in plain, plain
    finally:
        team.close()
        w.close()


def test_nothing_to_send_exits_0_and_says_so():
    w = World()
    try:
        with open(w.env.config, "a") as f:
            f.write(f'\n[digest]\nto = "{TEAM}"\n')
        w.smtp.start()
        p = w.env.casectl("digest", "--send", env=at(NOW))
        assert p.returncode == 0
        assert p.stdout.decode().strip() == "Nothing to report: no new, stale, waiting or embargoed cases."
        assert w.smtp.messages() == []
    finally:
        w.close()


def test_securitytxt_signed_and_rfc9116_fields():
    w = World()
    try:
        with open(w.env.config, "a") as f:
            f.write('\n[ack]\npolicy_url = "https://example.com/disclosure-policy"\n'
                    '[securitytxt]\nexpires_days = 180\npreferred_languages = "en, de"\n'
                    'canonical = ["https://example.com/.well-known/security.txt"]\n')
        lines = w.env.casectl("securitytxt", env=at(NOW)).stdout.decode().splitlines()
        fields = [l.split(": ", 1) for l in lines]
        assert fields[0] == ["Contact", "mailto:security@example.com"]
        names = [f[0] for f in fields]
        assert names.count("Expires") == 1
        expires = dict(fields)["Expires"]
        assert expires == "2027-05-22T09:00:00Z" and expires > NOW  # 180 days ahead
        assert dict(fields)["Encryption"].startswith("https://example.com/.well-known/openpgpkey/hu/")
        assert dict(fields)["Policy"] == "https://example.com/disclosure-policy"
        assert dict(fields)["Preferred-Languages"] == "en, de"
        assert dict(fields)["Canonical"] == "https://example.com/.well-known/security.txt"
        signed = w.env.casectl("securitytxt", "--sign", env=at(NOW)).stdout
        assert signed.startswith(b"-----BEGIN PGP SIGNED MESSAGE-----")
        reader = Keyring("reader@example.net")
        try:
            reader.import_key(w.alias.public())
            p = gpg(reader.home, "--status-fd", "2", "--verify", input=signed, check=False)
            assert p.returncode == 0 and f"VALIDSIG {w.alias.fpr}" in p.stderr.decode()
        finally:
            reader.close()
        # A configured Expires in the past is refused rather than published.
        with open(w.env.config, "a") as f:
            f.write('expires = "2026-11-01T00:00:00Z"\n')
        p = w.env.casectl("securitytxt", env=at(NOW), check=False)
        assert p.returncode == 1 and b"in the past" in p.stderr
    finally:
        w.close()


def test_keys_export_for_publishing_with_the_wkd_location():
    w = World()
    try:
        p = w.env.casectl("keys", "export")
        assert p.stdout.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----")
        err = p.stderr.decode()
        # zbase32(sha1("security")), as gpg-wks-client prints it.
        expected = subprocess.run(["/usr/lib/gnupg/gpg-wks-client", "--print-wkd-hash", "security@example.com"],
                                  capture_output=True, text=True, check=True)
        assert f"WKD hash: {expected.stdout.split()[0]}" in err
        assert "https://example.com/.well-known/openpgpkey/hu/" in err
        assert "https://openpgpkey.example.com/.well-known/openpgpkey/example.com/hu/" in err
        binary = w.env.casectl("keys", "export", "--binary").stdout
        assert not binary.startswith(b"-----")
        reader = Keyring("reader@example.net")
        try:
            out = gpg(reader.home, "--status-fd", "2", "--import", input=binary).stderr.decode()
            assert f"IMPORT_OK 1 {w.alias.fpr}" in out
        finally:
            reader.close()
    finally:
        w.close()


if __name__ == "__main__":
    if not need_test_hooks("every digest test"):
        sys.exit(SKIP)
    run_tests(globals())
