-- Agreement versions loaded through the admin API (or from configuration), with their
-- revocation; and gateway notices in court inboxes (work returned with a reason).

CREATE TABLE agreements (
    digest        TEXT PRIMARY KEY,
    id            TEXT NOT NULL,
    version       INTEGER NOT NULL,
    document      TEXT NOT NULL,
    loaded_by     TEXT NOT NULL,
    loaded_at     INTEGER NOT NULL,
    revoked_at    INTEGER,
    revoked_by    TEXT,
    revoke_reason TEXT
);
CREATE INDEX agreements_by_id ON agreements (id, version);

-- A notice is an inbox row whose message_id names no stored message: the gateway's own
-- status update (a status-update payload) for the court.
ALTER TABLE inbox ADD COLUMN notice TEXT;
