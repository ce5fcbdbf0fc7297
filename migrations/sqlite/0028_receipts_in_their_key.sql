-- Receipts kept in the B-tree of their key (WITHOUT ROWID), like `history` and
-- `idempotency` (0024): before, each receipt sat in a rowid B-tree and its key
-- (message_id, hop, issuer) again in `sqlite_autoindex_receipts_1`, about 65 bytes a
-- receipt, and each insert also rewrote the AUTOINCREMENT counter in `sqlite_sequence`.
-- A requesting gateway keeps three receipts a request (submission, relay, retrieval).
--
-- `seq` is gone: `ops verify` pages through the receipts by their key, and a request's
-- receipts are shown in the order of their time (see src/store/sql/work.rs and read.rs).
-- PostgreSQL is unchanged (its `seq` stays, unused).
CREATE TABLE receipts_rows (
    message_id TEXT NOT NULL,
    hop        TEXT NOT NULL,
    issuer     TEXT NOT NULL,
    body       TEXT NOT NULL,
    at         INTEGER,
    signature  BLOB,
    PRIMARY KEY (message_id, hop, issuer)
) WITHOUT ROWID;
INSERT INTO receipts_rows (message_id, hop, issuer, body, at, signature)
SELECT message_id, hop, issuer, body, at, signature FROM receipts ORDER BY message_id, hop, issuer;
DROP TABLE receipts;
ALTER TABLE receipts_rows RENAME TO receipts;
DELETE FROM sqlite_sequence WHERE name = 'receipts';
