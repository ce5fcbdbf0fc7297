-- Retention: when a finished request's payloads were purged (`kuayu purge`, after the
-- agreement's `retention.payloadDays`). A purged message keeps its row, digest and
-- receipts; its envelope text becomes JSON `null`. Times are Unix milliseconds.
ALTER TABLE messages ADD COLUMN purged_at INTEGER;
ALTER TABLE requests ADD COLUMN purged_at INTEGER;
-- The finished requests of an agreement not yet purged, oldest change first.
CREATE INDEX requests_to_purge ON requests (agreement_id, updated_at) WHERE purged_at IS NULL;
