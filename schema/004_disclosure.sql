-- Version 4: what coordinators track per case (casectl set).
ALTER TABLE cases ADD COLUMN embargo  TEXT;  -- YYYY-MM-DD: planned publication / end of embargo
ALTER TABLE cases ADD COLUMN product  TEXT;  -- affected product
ALTER TABLE cases ADD COLUMN versions TEXT;  -- affected versions, free text
ALTER TABLE cases ADD COLUMN cvss     TEXT;  -- a validated CVSS v3.1 or v4.0 vector
CREATE TABLE case_cves (
  case_id INTEGER NOT NULL REFERENCES cases(id),
  cve     TEXT    NOT NULL,
  added   INTEGER NOT NULL,
  PRIMARY KEY (case_id, cve)
);
CREATE INDEX cases_embargo ON cases(embargo) WHERE embargo IS NOT NULL;
