-- Version 20: S/MIME. A message says which kind of cryptography it carried,
-- and for S/MIME what its signer's certificate is and how far it is
-- trusted; keys learn their kind, so that a reporter's PGP key and X.509
-- certificate are pinned side by side, one of each.
ALTER TABLE messages ADD COLUMN crypto TEXT CHECK (crypto IN ('pgp', 'smime'));  -- NULL: neither
-- The S/MIME signer as JSON: {"fingerprint", "subject", "issuer", "addresses",
-- "chain", "revocation", "reason"}; NULL when the message has no S/MIME signer.
ALTER TABLE messages ADD COLUMN smime TEXT;
UPDATE messages SET crypto = 'pgp' WHERE decryption <> 'none' OR signature <> 'none';

ALTER TABLE keys ADD COLUMN protocol TEXT NOT NULL DEFAULT 'pgp' CHECK (protocol IN ('pgp', 'smime'));
