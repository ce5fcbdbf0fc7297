-- Fewer B-trees written per request (issue 12). Each B-tree a commit changes is at least
-- one page (8 KB) written to the WAL and, later, to the file; a service request's
-- commits changed about 45 on each side.
--
-- The outbox: a row lives from the submission's commit to the delivery's, which deletes
-- it, so every index is written twice a request.
-- - No UNIQUE on `message_id` (its index, `sqlite_autoindex_outbox_1`): a message's row
--   goes in with the message in one transaction, and `messages.id` is unique already.
--   What looks rows up by message (the end of an agreement) reads the pending rows,
--   which are few.
-- - `outbox_due` (every peer's pending items by priority) is gone: the relay reads each
--   peer's through `outbox_pending_by_peer` and merges them (src/store/sql/due.rs).
-- - `outbox_finished` (state, peer, done_at), which held the pending rows too, becomes
--   `outbox_dead`: delivered rows are deleted, and only the dead letters and the
--   refusals read finished rows.
-- `seq` keeps counting from where it was (AUTOINCREMENT, carried over in sqlite_sequence).
CREATE TABLE outbox_rows (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id      TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    peer            TEXT NOT NULL,
    priority        INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    done_at         INTEGER,
    lease_until     INTEGER,
    leased_by       TEXT
);
INSERT INTO outbox_rows (seq, message_id, request_id, peer, priority, state, attempts,
                         next_attempt_at, last_error, created_at, done_at, lease_until, leased_by)
SELECT seq, message_id, request_id, peer, priority, state, attempts,
       next_attempt_at, last_error, created_at, done_at, lease_until, leased_by
FROM outbox;
DELETE FROM sqlite_sequence WHERE name = 'outbox_rows';
INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox_rows', seq FROM sqlite_sequence WHERE name = 'outbox';
DROP TABLE outbox;
ALTER TABLE outbox_rows RENAME TO outbox;
CREATE INDEX outbox_pending_by_peer ON outbox (peer, priority DESC, seq) WHERE state = 'pending';
CREATE INDEX outbox_pending_by_request ON outbox (request_id, state, seq) WHERE state = 'pending';
CREATE INDEX outbox_pending_next ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_dead ON outbox (peer, done_at) WHERE state = 'dead';

-- `requests_to_purge` is by when a request was opened, not last changed: every change of
-- state moved its entry before. The purge asks for the requests last changed before its
-- cutoff, which were opened before it too (src/store/sql/purge.rs).
DROP INDEX requests_to_purge;
CREATE INDEX requests_to_purge ON requests (agreement_id, created_at) WHERE purged_at IS NULL;
