-- Version 11: triage. Why a case was closed, and the analysts' tags.

-- One of fixed, duplicate, not-a-vulnerability, out-of-scope, wont-fix,
-- spam, other (`casectl status ID resolved --reason R`); NULL while the case
-- is not closed, or when it was closed without a reason. Reopening a case
-- clears it.
ALTER TABLE cases ADD COLUMN resolution TEXT;
-- `stats` counts closed cases by resolution from this index alone.
CREATE INDEX cases_closed_resolution ON cases(resolution) WHERE closed IS NOT NULL AND merged_into IS NULL;

-- Lower-case words ([a-z0-9][a-z0-9._-]*). `list --tag T` and `search tag:T`
-- read the cases of a tag from tags_tag; a case's own tags are its rows of
-- the primary key. A merge moves them with the case.
CREATE TABLE tags (
  case_id INTEGER NOT NULL REFERENCES cases(id),
  tag     TEXT    NOT NULL,
  PRIMARY KEY (case_id, tag)
);
CREATE INDEX tags_tag ON tags(tag, case_id);
