-- Retrieval receipts this gateway signed for messages a peer gateway sent, waiting to be
-- carried back to that peer (POST /federation/v1/receipts). Written in the transaction
-- that records the retrieval, so none is lost; each is sent until the peer holds it.
CREATE TABLE receipt_outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id      TEXT NOT NULL,
    hop             TEXT NOT NULL,
    peer            TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    done_at         INTEGER,
    UNIQUE (message_id, hop)
);
CREATE INDEX receipt_outbox_due ON receipt_outbox (state, next_attempt_at);
