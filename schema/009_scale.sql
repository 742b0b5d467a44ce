-- Version 9: the analyst's commands at the size of a large archive
-- (100,000 cases, 1,000,000 messages): every list, digest section and
-- statistic reads an index in the order it prints, or counts over one,
-- instead of reading every case and every message.

-- When a case was closed (set to resolved or rejected); NULL while it is
-- not. Time to resolution and "closed in the period" read it.
ALTER TABLE cases ADD COLUMN closed INTEGER;
UPDATE cases SET closed = coalesce(
    (SELECT max(e.created) FROM events e
      WHERE e.case_id = cases.id AND e.kind = 'status'
        AND (e.detail LIKE '% -> resolved' OR e.detail LIKE '% -> rejected')),
    updated)
  WHERE status IN ('resolved', 'rejected');

-- `list` prints the most recently active cases first, with or without a
-- state or an assignee; the digest and `stats` count by state, assignee
-- and age. Merged cases are never listed or counted, so each index holds
-- only the others and every column its query reads: a count reads the
-- index alone, not a row of the table (whose pages lie among the messages').
CREATE INDEX cases_updated ON cases(updated) WHERE merged_into IS NULL;
CREATE INDEX cases_status_updated ON cases(status, updated) WHERE merged_into IS NULL;
CREATE INDEX cases_assignee_updated ON cases(assignee, updated) WHERE merged_into IS NULL;
CREATE INDEX cases_status_assignee_created ON cases(status, assignee, created) WHERE merged_into IS NULL;
CREATE INDEX cases_created ON cases(created) WHERE merged_into IS NULL;
CREATE INDEX cases_closed ON cases(closed, created) WHERE closed IS NOT NULL AND merged_into IS NULL;

-- Time to first response: a case's outbound messages, few next to the
-- inbound ones; an acknowledgement is told from a reply by its outbox row.
CREATE INDEX messages_outbound ON messages(case_id, received) WHERE direction = 'out';
CREATE INDEX outbox_message ON outbox(message) WHERE message IS NOT NULL;
