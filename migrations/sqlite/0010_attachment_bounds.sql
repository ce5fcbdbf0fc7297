-- Bounds on attachments: what an uploader keeps that no message lists (its quota), and
-- the unlisted uploads old enough to remove.
CREATE INDEX attachment_deliveries_by_source ON attachment_deliveries (source, sha256);
CREATE INDEX attachments_by_age ON attachments (stored_at);
