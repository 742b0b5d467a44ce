-- cased schema, version 1. Times are Unix seconds (UTC).

CREATE TABLE cases (
  id          INTEGER PRIMARY KEY,
  subject     TEXT    NOT NULL DEFAULT '',
  status      TEXT    NOT NULL DEFAULT 'new'
              CHECK (status IN ('new', 'open', 'waiting', 'resolved', 'rejected')),
  assignee    TEXT,
  created     INTEGER NOT NULL,
  updated     INTEGER NOT NULL,              -- last activity (contract: "Activity")
  merged_into INTEGER REFERENCES cases(id)   -- set when a late parent joined two threads
);
CREATE INDEX cases_status ON cases(status);

CREATE TABLE messages (
  id             INTEGER PRIMARY KEY,
  case_id        INTEGER NOT NULL REFERENCES cases(id),
  message_id     TEXT    NOT NULL,            -- without <>; synthetic when absent
  content_sha256 TEXT    NOT NULL,            -- of the bytes with CRLF line ends
  direction      TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
  source         TEXT    NOT NULL,            -- lmtp | ingest | imap | casectl
  envelope_from  TEXT,                        -- NULL when unknown, '' for the null sender
  from_addr      TEXT    NOT NULL DEFAULT '',
  from_name      TEXT    NOT NULL DEFAULT '',
  to_json        TEXT    NOT NULL DEFAULT '[]',
  cc_json        TEXT    NOT NULL DEFAULT '[]',
  date           INTEGER,
  received       INTEGER NOT NULL,
  subject        TEXT    NOT NULL DEFAULT '',
  body           TEXT    NOT NULL DEFAULT '',
  encrypted      INTEGER NOT NULL DEFAULT 0,
  mixed          INTEGER NOT NULL DEFAULT 0,
  decryption     TEXT    NOT NULL DEFAULT 'none',
  decryption_error TEXT,
  signature      TEXT    NOT NULL DEFAULT 'none',
  signer         TEXT,
  signer_uid     TEXT,
  unverified     INTEGER NOT NULL DEFAULT 0,
  malformed      INTEGER NOT NULL DEFAULT 0,
  problems       TEXT,
  raw            BLOB    NOT NULL,            -- exactly as received
  UNIQUE (message_id, content_sha256)
);
CREATE INDEX messages_case ON messages(case_id);
CREATE INDEX messages_message_id ON messages(message_id);

-- Every Message-ID a message names (In-Reply-To and References), for threading.
CREATE TABLE message_refs (
  message INTEGER NOT NULL REFERENCES messages(id),
  ref     TEXT    NOT NULL
);
CREATE INDEX message_refs_ref ON message_refs(ref);
CREATE INDEX message_refs_message ON message_refs(message);

CREATE TABLE attachments (
  id           INTEGER PRIMARY KEY,
  message      INTEGER NOT NULL REFERENCES messages(id),
  filename     TEXT    NOT NULL DEFAULT '',
  content_type TEXT    NOT NULL,
  size         INTEGER NOT NULL,
  sha256       TEXT    NOT NULL,
  encrypted    INTEGER NOT NULL DEFAULT 0,
  signed       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX attachments_message ON attachments(message);

CREATE TABLE participants (
  case_id  INTEGER NOT NULL REFERENCES cases(id),
  address  TEXT    NOT NULL,                  -- lower case addr-spec
  name     TEXT    NOT NULL DEFAULT '',
  role     TEXT    NOT NULL DEFAULT 'reporter'
           CHECK (role IN ('reporter', 'analyst', 'vendor', 'coordinator')),
  verified INTEGER NOT NULL DEFAULT 1,
  bouncing INTEGER NOT NULL DEFAULT 0,
  added    INTEGER NOT NULL,
  PRIMARY KEY (case_id, address)
);
CREATE INDEX participants_address ON participants(address);

CREATE TABLE comments (
  id      INTEGER PRIMARY KEY,
  case_id INTEGER NOT NULL REFERENCES cases(id),
  author  TEXT    NOT NULL,
  text    TEXT    NOT NULL,
  created INTEGER NOT NULL
);
CREATE INDEX comments_case ON comments(case_id);

CREATE TABLE events (
  id      INTEGER PRIMARY KEY,
  case_id INTEGER NOT NULL REFERENCES cases(id),
  kind    TEXT    NOT NULL,
  actor   TEXT    NOT NULL,
  created INTEGER NOT NULL,
  detail  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX events_case ON events(case_id);

-- Full text over subjects, decrypted bodies and comments. `kind` is 'message'
-- or 'comment' and `ref` the row id in that table.
CREATE VIRTUAL TABLE search_index USING fts5(
  subject, body, case_id UNINDEXED, kind UNINDEXED, ref UNINDEXED,
  tokenize = 'unicode61 remove_diacritics 2'
);
