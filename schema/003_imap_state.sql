-- Version 3: where the IMAP poller is in each mailbox.
CREATE TABLE imap_state (
  mailbox     TEXT    PRIMARY KEY,  -- "user@host/INBOX"
  uidvalidity INTEGER NOT NULL,
  last_uid    INTEGER NOT NULL      -- last UID handled; for diagnosis, never used to skip mail
);
