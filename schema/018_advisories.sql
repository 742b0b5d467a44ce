-- Version 18: a case's advisory (casectl advisory). One per case: its
-- tracking id is allocated once, by `init`, from [advisory] id_prefix and
-- the year; the text fields are only what an analyst set. The CVE ids,
-- CVSS vector, product, versions, embargo and vendor status are read from
-- the case when a document is built, so they are never copied twice.
CREATE TABLE advisories (
  case_id         INTEGER PRIMARY KEY REFERENCES cases(id),
  tracking_id     TEXT    NOT NULL UNIQUE,
  status          TEXT    NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
  version         INTEGER NOT NULL DEFAULT 0,      -- the last published version; 0 before the first
  title           TEXT    NOT NULL DEFAULT '',
  summary         TEXT    NOT NULL DEFAULT '',
  details         TEXT    NOT NULL DEFAULT '',
  remediation     TEXT    NOT NULL DEFAULT '',
  credit          TEXT,                            -- a name to acknowledge; NULL: nobody is credited
  fixed           TEXT,                            -- fixed versions
  created         INTEGER NOT NULL,
  updated         INTEGER NOT NULL,
  initial_release INTEGER,                         -- first publication
  current_release INTEGER                          -- last publication
);

-- The tracking numbers handed out per prefix and year (never reused).
CREATE TABLE advisory_numbers (
  prefix TEXT    NOT NULL,
  year   INTEGER NOT NULL,
  last   INTEGER NOT NULL,
  PRIMARY KEY (prefix, year)
);

-- The advisory's references (URLs), in the order they were added.
CREATE TABLE advisory_references (
  case_id  INTEGER NOT NULL REFERENCES advisories(case_id),
  position INTEGER NOT NULL,
  url      TEXT    NOT NULL,
  PRIMARY KEY (case_id, position)
);

-- One row per published version: its number, date and summary.
CREATE TABLE advisory_revisions (
  case_id INTEGER NOT NULL REFERENCES advisories(case_id),
  number  INTEGER NOT NULL,
  date    INTEGER NOT NULL,
  summary TEXT    NOT NULL,
  actor   TEXT    NOT NULL,
  PRIMARY KEY (case_id, number)
);
