-- Version 6: a message's text is kept once when it is the raw message's own
-- bytes (a plain-text message in 7bit or 8bit UTF-8, which is most mail).
-- Before, the body was stored twice, as the raw message and as text: for
-- large mail half of every commit's bytes, written to the WAL, copied again
-- by the checkpoint and synced (docs/benchmarks.md, fifth session).
-- Such a message has `body` = '' and a row here saying where the text lies
-- in `raw`. Read message text through the message_text view, which serves
-- both kinds; the search index reads it from there too.
CREATE TABLE message_body_in_raw (
  message INTEGER PRIMARY KEY REFERENCES messages(id),
  offset  INTEGER NOT NULL,    -- bytes of raw before the text
  length  INTEGER NOT NULL     -- bytes of text
);

CREATE VIEW message_text(id, subject, body) AS
  SELECT m.id, m.subject,
         CASE WHEN r.message IS NULL THEN m.body
              ELSE CAST(substr(m.raw, r.offset + 1, r.length) AS TEXT) END
  FROM messages m LEFT JOIN message_body_in_raw r ON r.message = m.id;

-- An external-content index names its content table when it is made, so it
-- is made again over the view (the rows are the same, so is the index).
DROP TABLE message_index;
CREATE VIRTUAL TABLE message_index USING fts5(
  subject, body,
  content = 'message_text', content_rowid = 'id',
  tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO message_index(message_index) VALUES ('rebuild');
