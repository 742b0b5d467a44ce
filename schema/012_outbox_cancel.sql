-- Version 12: an outbox row can be cancelled while it is still queued.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt
-- with the same columns, rows and ids, and its indexes made again. No
-- table refers to outbox, so dropping the old one touches nothing else.

CREATE TABLE outbox_new (
  id            INTEGER PRIMARY KEY,
  case_id       INTEGER REFERENCES cases(id),       -- NULL for the digest
  kind          TEXT    NOT NULL CHECK (kind IN ('reply', 'ack', 'digest')),
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
