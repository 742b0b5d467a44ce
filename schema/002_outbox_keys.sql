-- Version 2: the outbox (mail we send) and the keys we know for participants.

CREATE TABLE outbox (
  id            INTEGER PRIMARY KEY,
  case_id       INTEGER REFERENCES cases(id),       -- NULL for the digest
  kind          TEXT    NOT NULL CHECK (kind IN ('reply', 'ack', 'digest')),
  status        TEXT    NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
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
CREATE INDEX outbox_due ON outbox(status, next_attempt);

-- Keys pinned to addresses (trust on first use); see contract: "Keys".
CREATE TABLE keys (
  address     TEXT    NOT NULL,                     -- lower case addr-spec
  fingerprint TEXT    NOT NULL,                     -- primary key, upper-case hex
  source      TEXT    NOT NULL,                     -- attachment | inline | autocrypt | signature | keyring | analyst
  case_id     INTEGER REFERENCES cases(id),
  pinned      INTEGER NOT NULL DEFAULT 0,
  added       INTEGER NOT NULL,
  PRIMARY KEY (address, fingerprint)
);
