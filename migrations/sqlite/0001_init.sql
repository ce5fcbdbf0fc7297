-- kuayu gateway store, SQLite engine. Times are Unix milliseconds.

-- Every envelope this gateway sent or received, exactly as signed.
CREATE TABLE messages (
    id               TEXT PRIMARY KEY,
    direction        TEXT NOT NULL CHECK (direction IN ('out', 'in')),
    kind             TEXT NOT NULL,
    request_id       TEXT NOT NULL,
    sender_court     TEXT NOT NULL,
    recipient_court  TEXT NOT NULL,
    agreement_id     TEXT NOT NULL,
    agreement_sha256 TEXT NOT NULL,
    digest           TEXT NOT NULL,
    envelope         TEXT NOT NULL,
    test             INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    committed_at     INTEGER NOT NULL
);
CREATE INDEX messages_by_request ON messages (request_id, committed_at);

-- One row per piece of work this gateway's courts asked for (requester) or must do (executor).
CREATE TABLE requests (
    id               TEXT PRIMARY KEY,
    family           TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('requester', 'executor')),
    requesting_court TEXT NOT NULL,
    requested_court  TEXT NOT NULL,
    state            TEXT NOT NULL,
    agreement_id     TEXT NOT NULL,
    agreement_sha256 TEXT NOT NULL,
    priority         INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

-- What happened to a request, in order.
CREATE TABLE history (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    at         INTEGER NOT NULL,
    state      TEXT NOT NULL,
    event      TEXT NOT NULL,
    actor      TEXT NOT NULL,
    message_id TEXT,
    detail     TEXT NOT NULL
);
CREATE INDEX history_by_request ON history (request_id, seq);

-- Signed receipts, each hop of each message once.
CREATE TABLE receipts (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    hop        TEXT NOT NULL,
    issuer     TEXT NOT NULL,
    body       TEXT NOT NULL,
    UNIQUE (message_id, hop, issuer)
);
CREATE INDEX receipts_by_request ON receipts (request_id, seq);

-- Messages waiting to be relayed to a peer gateway.
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id      TEXT NOT NULL UNIQUE,
    request_id      TEXT NOT NULL,
    peer            TEXT NOT NULL,
    priority        INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    done_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (state, priority DESC, seq);
CREATE INDEX outbox_by_request ON outbox (request_id, state, seq);

-- Messages for this gateway's courts to pull.
CREATE TABLE inbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    court        TEXT NOT NULL,
    message_id   TEXT NOT NULL UNIQUE,
    request_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    priority     INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    retrieved_at INTEGER
);
CREATE INDEX inbox_by_court ON inbox (court, seq);

-- Append-only, hash-chained audit log.
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- First answers to court submissions, by the court's idempotency key.
CREATE TABLE idempotency (
    court        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (court, key)
);
