#!/usr/bin/python3
"""Writes the hand-made seeds of every fuzz target into tests/fuzz/corpus/.

    tests/fuzz/make_seeds.py

Idempotent: rewrites its own files (named seed-*), leaves the rest of each
corpus (crash-* reproducers and inputs the fuzzer found) alone. The hostile
inputs of issue 12 are here, small: a few KB of nesting stands for the 3 MB
of the issue, which tests/bench/hostile_gen.py makes for the benchmark.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bench"))
import hostile_gen  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")
DATA = os.path.join(HERE, "..", "data")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def msg(headers, body="hello\r\n"):
    return headers.replace("\n", "\r\n").encode("latin-1") + b"\r\n" + body.encode("latin-1")


BASE = "From: Rita <rita@example.org>\nTo: security@example.com\nSubject: report\n"

# Messages that each broke (or could break) the daemon or a case (issue 12).
HOSTILE = {
    "to-ff": msg("From: rita@example.org\nTo: <\xff@x>\nSubject: one byte\nMessage-ID: <a1@example.org>\n"),
    "msgid-ff": msg(BASE + "Message-ID: <\xff\xfe@example.org>\n"),
    "reply-to-cr": msg(BASE + "Reply-To: (c <victim2@example.net\rX:y>\nMessage-ID: <a2@example.org>\n"),
    "msgid-bare-cr": msg(BASE + "Message-ID: <x\rX-Injected:yes@example.org>\n"
                         "In-Reply-To: <y\rX-Injected:yes@example.org>\n"
                         "References: <z\rX-Injected:yes@example.org> <ok@example.org>\n"),
    "from-controls": msg("From: \x1bc\x1b[31m <rita\x9b@example.org>\nTo: security@example.com\n"
                         "Subject: =?utf-8?b?4oCuZXZpbCDCmyBjc2k=?=\nContent-Type: text/\x1bc; charset=utf-8\n"),
    "plus-case": msg("From: mallory@example.net\nTo: security+19@example.com\nSubject: [CASE#19] me too\n"
                     "References: <case-19@example.com> <case-20@example.com>\n"),
    "clearsigned-prefix": msg(BASE + "Content-Type: text/plain\n",
                              "send all future details to mallory@example.net\r\n"
                              "-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nreal report\r\n"
                              "-----BEGIN PGP SIGNATURE-----\r\n\r\niQ==\r\n-----END PGP SIGNATURE-----\r\n"),
    "wrapped-encrypted": msg(BASE + 'Content-Type: multipart/mixed; boundary="o"\n',
                             "--o\r\nContent-Type: text/plain\r\n\r\nlook at this\r\n--o\r\n"
                             'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="e"\r\n\r\n'
                             "--e\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--e\r\n"
                             "Content-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\n"
                             "hQEMA0==\r\n-----END PGP MESSAGE-----\r\n--e--\r\n--o--\r\n"),
    "autocrypt-key": msg(BASE + "Autocrypt: addr=victim@example.net; keydata=mQINBF==\n"
                         "Authentication-Results: mx.example.com; dmarc=fail header.from=example.org\n"),
    "empty": b"",
    "headers-only": b"Subject: x\r\n",
    "lf-only-8bit": b"From: r\xe9ta@example.org\nSubject: caf\xe9\n\n\xff\xfe body\n",
}
for kind in ("deep", "tinyparts", "nested", "html", "references", "plain"):
    HOSTILE["hostile-" + kind] = hostile_gen.KINDS[kind](6144).encode()


def lmtp(message, rcpts=("security@example.com",), sender="rita@example.org", quit=True):
    if isinstance(message, str):
        message = message.encode("latin-1")
    lines = message.replace(b"\r\n", b"\n").split(b"\n")
    body = b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    out = b"LHLO client.example.org\r\nMAIL FROM:<" + sender.encode("latin-1") + b">\r\n"
    for r in rcpts:
        out += b"RCPT TO:<" + r.encode("latin-1") + b">\r\n"
    out += b"DATA\r\n" + body + b".\r\n"
    return out + (b"QUIT\r\n" if quit else b"")


def mime_seeds():
    for f in sorted(os.listdir(DATA)):
        with open(os.path.join(DATA, f), "rb") as fh:
            write("mime", "data-" + f, fh.read())
    for name, m in HOSTILE.items():
        write("mime", name, m)


def lmtp_seeds():
    for target in ("lmtp", "lmtp_store"):
        for name, m in HOSTILE.items():
            write(target, name, lmtp(m))
        write(target, "rcpt-ff", lmtp(HOSTILE["to-ff"], rcpts=("security@example.com", "security+\xff@example.com")))
        write(target, "two-in-a-row", lmtp(HOSTILE["msgid-ff"], quit=False) + lmtp(HOSTILE["to-ff"])[25:])
        write(target, "plus-route", lmtp(HOSTILE["plus-case"], rcpts=("security+19@example.com",)))
        write(target, "null-sender", lmtp(HOSTILE["to-ff"], sender=""))
    write("lmtp", "long-line", b"LHLO " + b"a" * 2000 + b"\r\nQUIT\r\n")
    write("lmtp", "bare-cr", b"LHLO x\rMAIL FROM:<a@b>\r\nRCPT TO:<security@example.com\r>\r\nRSET\r\nNOOP\r\nVRFY x\r\nQUIT\r\n")
    write("lmtp", "many-rcpt", lmtp(HOSTILE["headers-only"], rcpts=["security+%d@example.com" % i for i in range(12)]))
    write("lmtp", "no-lhlo", b"MAIL FROM:<a@b>\r\nDATA\r\nHELO x\r\nEHLO x\r\nBDAT 10 LAST\r\n0123456789STARTTLS\r\n")
    write("lmtp", "eof-in-data", b"LHLO x\r\nMAIL FROM:<a@b> SIZE=99999999999999999999\r\nRCPT TO:<security@example.com>\r\nDATA\r\nSubject: x\r\n\r\n..\r\n.x\r\n")
    write("lmtp", "errors", b"x\r\n" * 30)


def wire_seeds():
    # Selector 2: a message is parsed, encoded as a worker's reply and decoded.
    for name in ("to-ff", "hostile-tinyparts", "wrapped-encrypted", "msgid-bare-cr"):
        write("wire", "roundtrip-" + name, b"\x02" + HOSTILE[name])

    def s(b):
        return struct.pack("<Q", len(b)) + b
    # Selector 0: a request (raw, envelope: source, optional mail_from, recipients).
    req = s(HOSTILE["to-ff"]) + s(b"lmtp") + b"\x01" + s(b"rita@example.org") + struct.pack("<Q", 1) + s(b"security@example.com")
    write("wire", "request", b"\x00" + req)
    write("wire", "request-truncated", b"\x00" + req[: len(req) // 2])
    write("wire", "request-huge-length", b"\x00" + struct.pack("<Q", 2**63) + b"x")
    write("wire", "request-huge-count", b"\x00" + s(b"m") + s(b"lmtp") + b"\x00" + struct.pack("<Q", 2**62))
    write("wire", "reply-error", b"\x01\x00" + struct.pack("<Q", 0) + s(b"temporary"))


def smtp_seeds():
    ok = b"250 ok\r\n"
    ehlo = b"250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n"
    good = b"220 mx.example.net ESMTP\r\n" + ehlo + ok * 3 + b"354 go ahead\r\n250 2.0.0 queued\r\n221 bye\r\n"
    write("smtp_reply", "good", good)
    write("smtp_reply", "endless-250", b"220 mx ESMTP\r\n" + b"250-" + b"A" * 60 + b"\r\n" * 1 + (b"250-" + b"B" * 60 + b"\r\n") * 1000)
    write("smtp_reply", "endless-line", b"220 " + b"x" * 60000)
    write("smtp_reply", "rcpt-5xx-4xx", b"220 mx\r\n" + ehlo + ok + b"550 5.1.1 no such user\x1bc\r\n451 4.3.0 later\r\n")
    write("smtp_reply", "rcpt-all-refused", b"220 mx\r\n" + ehlo + ok + b"550 no\r\n550 no\r\n")
    write("smtp_reply", "bad-codes", b"220-mx\r\n220 mx\r\n2x0 what\r\n999 no\r\n25\r\n\r\n-250\r\n")
    write("smtp_reply", "cr-in-reply", b"220 mx\r\n" + ehlo + b"250 ok\rX-Injected: 1\r\n" + ok * 2 + b"354 go\r\n554 5.7.1 spam\rRCPT\r\n")
    write("smtp_reply", "helo-fallback", b"220 mx\r\n502 command unrecognized\r\n250 hi\r\n" + ok * 3 + b"354 go\r\n250 ok\r\n")
    write("smtp_reply", "nul-bytes", b"220 mx\x00\r\n250\x00ok\r\n")


def imap_seeds():
    greet = b"* OK [CAPABILITY IMAP4rev1 IDLE MOVE UIDPLUS LITERAL+] ready\r\n"
    login = b"1 OK [CAPABILITY IMAP4rev1 IDLE MOVE UIDPLUS] logged in\r\n"
    create = b"2 NO [ALREADYEXISTS] exists\r\n"
    select = (b"* 2 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1700000000] ok\r\n* OK [UIDNEXT 9] ok\r\n"
              b"* FLAGS (\\Seen \\Deleted)\r\n3 OK [READ-WRITE] selected\r\n")
    uids = b"* 1 FETCH (UID 7)\r\n* 2 FETCH (UID 8)\r\n4 OK done\r\n"
    body = b"Subject: x\r\n\r\nhi\r\n"
    fetch7 = b"* 1 FETCH (UID 7 BODY[] {%d}\r\n%s)\r\n5 OK done\r\n" % (len(body), body)
    move7 = b"* OK [COPYUID 1 7 100] moved\r\n* 1 EXPUNGE\r\n6 OK done\r\n"
    fetch8_no = b"7 NO [UNAVAILABLE] cannot read\r\n"
    idle = b"+ idling\r\n* 3 EXISTS\r\n8 OK idle done\r\n9 OK noop\r\n* BYE\r\n10 OK bye\r\n"
    good = greet + login + create + select + uids + fetch7 + move7 + fetch8_no + idle
    write("imap_reply", "good", good)
    write("imap_reply", "no-on-uid-fetch", greet + login + create + select + b"4 NO [SERVERBUG] no\r\n")
    write("imap_reply", "endless-greeting", b"* OK " + b"x" * 60000)
    write("imap_reply", "endless-capability", b"* OK [CAPABILITY" + b" X-A" * 15000)
    write("imap_reply", "huge-literal", greet + login + create + select + uids + b"* 1 FETCH (UID 7 BODY[] {4294967295}\r\nab")
    write("imap_reply", "bye-greeting", b"* BYE go away\r\n")
    write("imap_reply", "preauth", b"* PREAUTH hi\r\n" + login)
    no_move = greet.replace(b" MOVE UIDPLUS", b"")
    write("imap_reply", "copy-store-expunge", no_move + login.replace(b" MOVE UIDPLUS", b"") + create + select + uids + fetch7
          + b"6 OK copied\r\n* 1 FETCH (FLAGS (\\Deleted))\r\n7 OK stored\r\n")
    write("imap_reply", "control-chars", b"* OK \x1b]0;pwned\x07 \x9b31m ready\r\n1 NO \x1bc bad\r\n")


def config_seeds():
    good = ('[case]\ndatabase = "/var/lib/cased/cases.db"\nalias = "security@example.com"\ntag = "SEC"\n'
            'analysts = ["ana", "bob"]\n[lmtp]\nlisten = ["127.0.0.1:2424", "[::1]:2424", "unix:/run/cased/lmtp.sock"]\n'
            'max_message_size = 1048576\nmax_sessions = 4\nidle_timeout = 30\n'
            '[imap]\nhost = "imap.example.com"\nport = 143\nsecurity = "starttls"\nuser = "u"\npassword_file = "/p"\n'
            '[gpg]\nhome = "/g"\ntimeout = 5\n[smtp]\nhost = "localhost"\nsecurity = "none"\nport = 25\n'
            '[ack]\nenabled = true\ntemplate = "{tag} {alias} {policy}"\npolicy_url = "https://example.com/p"\n'
            '[digest]\nstale_days = 3\nto = "team@example.com"\n'
            '[securitytxt]\ncontact = ["mailto:security@example.com", "https://example.com/s"]\n'
            'expires = "2027-01-01T00:00:00Z"\nexpires_days = 10\npreferred_languages = "en, de"\n'
            'canonical = ["https://example.com/.well-known/security.txt"]\n')
    write("config", "good", good)
    write("config", "minimal", '[case]\ndatabase = "c.db"\nalias = "security@example.com"\n')
    write("config", "invalid-toml", '[case\ndatabase = "c.db\nalias = security@example.com\n[[lmtp]]\n= 3\n')
    write("config", "wrong-types", '[case]\ndatabase = 1\nalias = ["a"]\n[lmtp]\nlisten = 5\nmax_message_size = -1\n'
          'max_sessions = 99999999999999999999\n[gpg]\ntimeout = 1e308\n')
    write("config", "control-chars", '[case]\ndatabase = "c.db"\nalias = "sec\\u001b[2J@ex\\u0000ample.com"\n'
          'tag = "\\u202e"\n[ack]\ntemplate = "{tag}{tag}{tag}{policy}{nope}{"\n')
    write("config", "bad-expires", '[case]\ndatabase = "c.db"\nalias = "@"\n[securitytxt]\nexpires = "9999-99-99"\n'
          'expires_days = 2147483647\n')
    write("config", "deep-arrays", '[case]\ndatabase = "c.db"\nalias = "a@b"\nanalysts = ' + "[" * 200 + "]" * 200 + "\n")
    write("config", "invalid-utf8", b'[case]\ndatabase = "\xff\xfe"\nalias = "a@\xc0\x80"\n')


def mbox_seeds():
    m = b"Subject: x\n\nbody\n"
    write("mbox", "two", b"From a@b Mon Nov 30 05:00:00 2026\n" + m + b"\nFrom c@d Mon Nov 30 05:00:01 2026\n" + m)
    write("mbox", "quoted-from", b"From a@b x\n" + m + b">From not a separator\n>>From twice\nFrom no-blank-line\n")
    write("mbox", "crlf", b"From a@b x\r\n" + m.replace(b"\n", b"\r\n") + b"\r\nFrom c@d y\r\n" + m.replace(b"\n", b"\r\n"))
    write("mbox", "junk-first", b"garbage\nmore\n\nFrom \nFrom \n\nFrom\n" + m)
    write("mbox", "no-trailing-newline", b"From a@b x\nSubject: y\n\nno newline")
    write("mbox", "odd-from-lines", b"From \xff\x00\r\n\n\nFrom  \n>From \n\n>From x\nFrom:\nfrom a@b\n")
    write("mbox", "empty", b"")


def html_seeds():
    write("html", "hostile-html", hostile_gen.html(6144).split("\r\n\r\n", 1)[1])
    write("html", "entities", "&amp;&lt;&gt;&quot;&apos;&nbsp;&#0;&#65;&#x1F600;&#xD800;&#x110000;&#99999999999;&#x;&#;&;&"
          "&notanentity;&ampamp;&AMP;" * 20)
    write("html", "unterminated", "<html><script>var x = '</scr' + 'ipt>';<style><!-- <p>a</p> --><scr<script")
    write("html", "controls", "<p>\x1bc\u009b31m\u202eevil</p><br><BR/><li>x<td>y<tr>z</table>")
    write("html", "charset-line", "iso-2022-jp\n\x1b$B$3$s$K$A$O\x1b(B <b>x</b>")
    write("html", "encoded-words", "=?utf-8?q?caf=C3=A9?= =?iso-8859-1?b?/w==?= =?x?y?z?= =?utf-8?b?" + "A" * 300 + "?=")


def text_seeds():
    write("text", "controls", b"a\x1bcb\x1b[31mc\x07d\x7fe\r\nf\rg\th\ni\x00j")
    write("text", "c1-bidi", "x\u009by\u009d0;t\u0007\u202eabc\u202c\u2066\u2069\u200e\u200f\u061c".encode())
    write("text", "invalid-utf8", b"\xc0\x80\xed\xa0\x80\xf4\x90\x80\x80\xf8\x88\x80\x80\x80\xe2\x82\xff\xfe\xc2")
    write("text", "valid-mixed", "caf\u00e9 \u65e5\u672c \U0001F600 ok".encode())


def main():
    mime_seeds()
    lmtp_seeds()
    wire_seeds()
    smtp_seeds()
    imap_seeds()
    config_seeds()
    mbox_seeds()
    html_seeds()
    text_seeds()


if __name__ == "__main__":
    main()
