-- Attachments: blobs kept in <database folder>/blobs/<first 2 hex>/<sha256 hex>, addressed
-- by the SHA-256 of their bytes. Times are Unix milliseconds.

-- The blobs this gateway holds (each written, verified and fsynced before its row).
CREATE TABLE attachments (
    sha256    TEXT PRIMARY KEY,
    bytes     INTEGER NOT NULL,
    stored_at INTEGER NOT NULL
);

-- Every delivery of a blob to this gateway, also of one already held: a court's upload
-- (source court:<code>; that court may read it) or a peer gateway's transfer
-- (source gateway:<region>). stored = 1 for the delivery that stored it.
CREATE TABLE attachment_deliveries (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL REFERENCES attachments (sha256),
    source TEXT NOT NULL,
    stored INTEGER NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX attachment_deliveries_by_blob ON attachment_deliveries (sha256, source);

-- The peer gateways each blob was sent to: a blob crosses to a peer once, however many
-- messages name it.
CREATE TABLE attachments_sent (
    sha256  TEXT NOT NULL,
    peer    TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (sha256, peer)
);

-- The attachments each stored message lists, with its two courts: who may read a blob.
CREATE TABLE message_attachments (
    sha256          TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    sender_court    TEXT NOT NULL,
    recipient_court TEXT NOT NULL,
    PRIMARY KEY (sha256, message_id)
);
INSERT OR IGNORE INTO message_attachments (sha256, message_id, sender_court, recipient_court)
SELECT json_extract(a.value, '$.sha256'), m.id, m.sender_court, m.recipient_court
FROM messages m, json_each(m.envelope, '$.attachments') a;
