-- Version 8: trust in a case. Anyone can mail the alias, so what a message
-- says about its sender and its keys is recorded with where it came from,
-- and decisions are made on that record rather than on the sender's word.
--
-- What the receiving MTA said about the message (its own, topmost
-- Authentication-Results field, when its authserv-id is the configured
-- case.authserv_id): NULL when there was none we trust. A From that failed
-- DMARC is treated as forged: it verifies nothing and pins no key.
ALTER TABLE messages ADD COLUMN auth_results TEXT;  -- the field's value, as received
ALTER TABLE messages ADD COLUMN auth_dkim    TEXT;  -- pass | fail | none | ... ('' when not reported)
ALTER TABLE messages ADD COLUMN auth_spf     TEXT;
ALTER TABLE messages ADD COLUMN auth_dmarc   TEXT;

-- Every key that ever arrived by mail, whoever it names. Before, only keys
-- naming the sender were recorded, and every unrecorded key in gpg.home
-- counted as imported by the operator: a key whose user id named someone
-- else stood in for that person. A key counts as the operator's only when
-- no mail ever brought it.
CREATE TABLE mail_keys (
  fingerprint TEXT    PRIMARY KEY,        -- primary key, upper-case hex
  sender      TEXT    NOT NULL DEFAULT '', -- the From of the first message that carried it
  case_id     INTEGER REFERENCES cases(id),
  added       INTEGER NOT NULL
);
INSERT OR IGNORE INTO mail_keys(fingerprint, sender, case_id, added)
  SELECT fingerprint, address, case_id, added FROM keys WHERE source IN ('attachment', 'inline', 'autocrypt');

-- Who offered a key for an address (a key for someone else's address is
-- recorded unpinned, with the sender who brought it); NULL for older rows
-- and for analysts' pins.
ALTER TABLE keys ADD COLUMN offered_by TEXT;
