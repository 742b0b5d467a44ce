-- Version 16: the vendor contact book (casectl vendor). It is global: a
-- vendor belongs to no case. Each vendor has its mail contacts in order,
-- an optional key (a fingerprint in gpg.home, pinned to the contacts),
-- other ways to reach it, and what its last imported security.txt said.
-- Changes to the book are not case events (there is no case): each one is
-- a row of vendor_log, kept when the vendor is removed.

CREATE TABLE vendors (
  name          TEXT    PRIMARY KEY,            -- [a-z0-9][a-z0-9._-]*, at most 64
  key           TEXT,                           -- primary key fingerprint, upper-case hex
  url           TEXT,
  phone         TEXT,
  postal        TEXT,
  note          TEXT,
  st_imported   INTEGER,                        -- when a security.txt was last imported; NULL: never
  st_expires    INTEGER,                        -- its Expires, Unix seconds
  st_signed     INTEGER NOT NULL DEFAULT 0,
  st_signature  TEXT CHECK (st_signature IN ('good', 'bad', 'unknown-key')),
  st_signer     TEXT,                           -- the signing key, when known
  created       INTEGER NOT NULL,
  updated       INTEGER NOT NULL
);

CREATE TABLE vendor_contacts (
  vendor    TEXT    NOT NULL REFERENCES vendors(name) ON DELETE CASCADE,
  address   TEXT    NOT NULL,                   -- lower-case addr-spec
  position  INTEGER NOT NULL,
  PRIMARY KEY (vendor, address)
);
CREATE INDEX vendor_contacts_address ON vendor_contacts(address);

CREATE TABLE vendor_log (
  id      INTEGER PRIMARY KEY,
  vendor  TEXT    NOT NULL,                     -- no reference: the log outlives the vendor
  at      INTEGER NOT NULL,
  actor   TEXT    NOT NULL,
  action  TEXT    NOT NULL,                     -- add | edit | import-securitytxt | remove
  detail  TEXT    NOT NULL
);
CREATE INDEX vendor_log_vendor ON vendor_log(vendor, at);
