-- Two tables kept in the B-tree of their primary key (WITHOUT ROWID), so that the key is
-- stored once: before, each row sat in a rowid B-tree and its key again in an index
-- (`sqlite_autoindex_idempotency_1`, `history_by_request`), about 58 and 107 bytes a
-- request. PostgreSQL is unchanged.
--
-- `history` is now keyed by (request_id, seq). `seq` orders one request's entries and
-- nothing else: a new entry takes one more than its request's last (see `apply` in
-- src/store/sql/tx.rs). Entries stored before keep the numbers they had, which grew
-- across all requests, so every request's entries stay in their order.
CREATE TABLE idempotency_rows (
    court        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    answered     TEXT,
    elided       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (court, key)
) WITHOUT ROWID;
INSERT INTO idempotency_rows (court, key, request_hash, status, body, created_at, answered, elided)
SELECT court, key, request_hash, status, body, created_at, answered, elided FROM idempotency;
DROP TABLE idempotency;
ALTER TABLE idempotency_rows RENAME TO idempotency;

CREATE TABLE history_rows (
    request_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    state      TEXT NOT NULL,
    event      TEXT NOT NULL,
    actor      TEXT NOT NULL,
    message_id TEXT,
    detail     TEXT NOT NULL,
    trace_id   TEXT,
    PRIMARY KEY (request_id, seq)
) WITHOUT ROWID;
INSERT INTO history_rows (request_id, seq, at, state, event, actor, message_id, detail, trace_id)
SELECT request_id, seq, at, state, event, actor, message_id, detail, trace_id FROM history;
DROP TABLE history;
ALTER TABLE history_rows RENAME TO history;
DELETE FROM sqlite_sequence WHERE name = 'history';
