-- Version 5: message text is indexed straight from the messages table (FTS5
-- external content) instead of from a second copy kept inside the index:
-- every message body was stored twice, and for large mail that second copy
-- was a third of the database and of the bytes written per message.
-- Messages are never deleted and their subject and body never change, so
-- the index never needs the old values back. Comments and CVE ids, small
-- and few, keep an index with its own content.
CREATE VIRTUAL TABLE message_index USING fts5(
  subject, body,
  content = 'messages', content_rowid = 'id',
  tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO message_index(message_index) VALUES ('rebuild');

-- `kind` is 'comment' (ref: the comment's id) or 'cve' (ref 0).
CREATE VIRTUAL TABLE note_index USING fts5(
  subject, body, case_id UNINDEXED, kind UNINDEXED, ref UNINDEXED,
  tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO note_index(subject, body, case_id, kind, ref)
  SELECT subject, body, case_id, kind, ref FROM search_index WHERE kind <> 'message';

DROP TABLE search_index;
