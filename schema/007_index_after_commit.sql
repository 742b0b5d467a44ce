-- Version 7: a message is added to the search index after the commit that
-- stores it, not inside it. Indexing was a third of the work between the
-- end of DATA and the 250 reply, and each one-message transaction wrote
-- a search-index segment of its own; cased now indexes what it stored when
-- its writer is idle or has a batch, in a transaction that needs no sync of
-- its own (the next durable commit syncs it; a crash loses only index rows,
-- which are made again). Every message with an id above `indexed_upto` is
-- still to be indexed; a search indexes them first, so it finds every
-- stored message.
CREATE TABLE search_progress (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  indexed_upto INTEGER NOT NULL
);
INSERT INTO search_progress(id, indexed_upto) SELECT 1, coalesce(max(id), 0) FROM messages;
