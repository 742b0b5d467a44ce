-- Version 17: coordinating a case with vendors, and the two new kinds of
-- outgoing mail (a vendor notification, an advisory announcement).
--
-- The outbox is rebuilt to widen its kind CHECK (SQLite cannot change one
-- in place), with the same columns, rows and ids. Nothing refers to outbox
-- by a foreign key, so dropping the old table touches nothing else (its
-- indexes, including version 15's, are made again below); the
-- outreach log below names outbox rows by id without a REFERENCES clause
-- for the same reason.

CREATE TABLE outbox_new (
  id            INTEGER PRIMARY KEY,
  case_id       INTEGER REFERENCES cases(id),       -- NULL for the digest
  kind          TEXT    NOT NULL
                CHECK (kind IN ('reply', 'ack', 'digest', 'notify', 'announce')),
  status        TEXT    NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
  recipients    TEXT    NOT NULL,                   -- JSON array of addr-specs
  subject       TEXT    NOT NULL,                   -- the real subject (inside the encryption)
  message_id    TEXT    NOT NULL,
  message       INTEGER REFERENCES messages(id),    -- the outbound message shown by `show`
  raw           BLOB    NOT NULL DEFAULT '',        -- the finished, signed (and encrypted) message;
                                                    -- '' for an acknowledgement not yet composed
  attempts      INTEGER NOT NULL DEFAULT 0,
  last_error    TEXT,
  next_attempt  INTEGER NOT NULL,
  claimed_until INTEGER,                            -- a sender holds the row until then
  created       INTEGER NOT NULL,
  sent          INTEGER
);
INSERT INTO outbox_new(id, case_id, kind, status, recipients, subject, message_id, message, raw, attempts,
                       last_error, next_attempt, claimed_until, created, sent)
  SELECT id, case_id, kind, status, recipients, subject, message_id, message, raw, attempts,
         last_error, next_attempt, claimed_until, created, sent FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(status, next_attempt);
CREATE INDEX outbox_message ON outbox(message) WHERE message IS NOT NULL;
CREATE INDEX outbox_ack ON outbox(created) WHERE kind = 'ack';

-- Which party of a case a message belongs to, decided when it is stored:
-- 'vendor:NAME' for a vendor's mail (sent to alias+ID.NAME, or answering a
-- notification to that vendor) and for our notifications to it; NULL for
-- everything else, whose party (reporter or unverified) follows from trust.
ALTER TABLE messages ADD COLUMN party TEXT;

-- A vendor attached to a case. `vendor` names a row of the contact book but
-- does not reference it: a case's history outlives the book's entry.
CREATE TABLE case_vendors (
  case_id      INTEGER NOT NULL REFERENCES cases(id),
  vendor       TEXT    NOT NULL,
  added        INTEGER NOT NULL,
  notified     INTEGER,                 -- first notification queued; NULL: never notified
  last_contact INTEGER,                 -- our last outreach of any kind
  last_reply   INTEGER,                 -- the vendor's last message in this case
  PRIMARY KEY (case_id, vendor)
);
CREATE INDEX case_vendors_vendor ON case_vendors(vendor);

-- The vendor's status in a case, as a whole (cve = '') and per CVE id.
CREATE TABLE vendor_status (
  case_id   INTEGER NOT NULL REFERENCES cases(id),
  vendor    TEXT    NOT NULL,
  cve       TEXT    NOT NULL DEFAULT '',
  state     TEXT    NOT NULL
            CHECK (state IN ('unknown', 'investigating', 'affected', 'not-affected', 'fixed', 'unresponsive')),
  statement TEXT,
  actor     TEXT    NOT NULL,
  updated   INTEGER NOT NULL,
  PRIMARY KEY (case_id, vendor, cve)
);

-- Every attempt to reach a vendor in a case: each notification (with its
-- outbox row, whose state and any bounce show beside it) and the manual
-- ones an analyst records.
CREATE TABLE vendor_outreach (
  id        INTEGER PRIMARY KEY,
  case_id   INTEGER NOT NULL REFERENCES cases(id),
  vendor    TEXT    NOT NULL,
  via       TEXT    NOT NULL CHECK (via IN ('mail', 'phone', 'post', 'form', 'other')),
  at        INTEGER NOT NULL,
  actor     TEXT    NOT NULL,
  text      TEXT    NOT NULL DEFAULT '',
  outbox    INTEGER,                    -- outbox(id) of a notification; NULL for a manual attempt
  delivery  TEXT    CHECK (delivery IN ('bounced', 'delivered')),  -- from a DSN; NULL: none seen
  delivery_detail TEXT                  -- the failed recipients, or the DSN's status
);
CREATE INDEX vendor_outreach_case ON vendor_outreach(case_id, vendor, at);
CREATE INDEX vendor_outreach_outbox ON vendor_outreach(outbox) WHERE outbox IS NOT NULL;

-- A contact a DSN reported as failing, since when; NULL: not bouncing.
ALTER TABLE vendor_contacts ADD COLUMN bouncing_since INTEGER;
