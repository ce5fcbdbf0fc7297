-- The inbox loses its UNIQUE on `message_id` (its index, `sqlite_autoindex_inbox_1`), which
-- every inbound message's commit wrote, a page a commit, and which held about 45 bytes a
-- message (issue 12). Nothing reads the inbox by message: pages, leases and
-- acknowledgements go by `seq`. A message's item goes in only in the commit that stored
-- the message itself for the first time (`messages.id` is unique, and a message stored
-- before changes nothing), and a notice's item takes a new id, so the index only ever
-- checked what holds by construction. PostgreSQL is unchanged.
-- `seq` keeps counting from where it was (AUTOINCREMENT, carried over in sqlite_sequence).
CREATE TABLE inbox_rows (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    court        TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    priority     INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    retrieved_at INTEGER,
    notice       TEXT,
    lease_until  INTEGER
);
INSERT INTO inbox_rows (seq, court, message_id, request_id, kind, priority, received_at,
                        retrieved_at, notice, lease_until)
SELECT seq, court, message_id, request_id, kind, priority, received_at,
       retrieved_at, notice, lease_until
FROM inbox;
DELETE FROM sqlite_sequence WHERE name = 'inbox_rows';
INSERT INTO sqlite_sequence (name, seq) SELECT 'inbox_rows', seq FROM sqlite_sequence WHERE name = 'inbox';
DROP TABLE inbox;
ALTER TABLE inbox_rows RENAME TO inbox;
CREATE INDEX inbox_by_court ON inbox (court, seq);
CREATE INDEX inbox_unread ON inbox (court, priority DESC, seq) WHERE retrieved_at IS NULL;
