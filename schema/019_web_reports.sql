-- Version 19: reports made on the web form. Each opened its own case, and
-- the reporter was given a receipt code (random, unguessable) to quote when
-- they write to the alias. A key pasted into the form is for that case
-- only: the typed address is unproven, so the key is recorded unpinned in
-- keys (it never replaces a pin the address has) and named here, where the
-- case's acknowledgement finds it.
CREATE TABLE web_reports (
  case_id     INTEGER PRIMARY KEY REFERENCES cases(id),
  message     INTEGER NOT NULL REFERENCES messages(id),
  receipt     TEXT    NOT NULL UNIQUE,
  address     TEXT    NOT NULL DEFAULT '',   -- the typed e-mail address, lower case ('' = anonymous)
  fingerprint TEXT    NOT NULL DEFAULT '',   -- the pasted key, upper-case hex ('' = none)
  created     INTEGER NOT NULL
);
