-- Outbox leases (used by PostgreSQL replicas; kept here so both engines share one schema
-- and one set of statements), and indexes for the hot queries at 10 million messages.
ALTER TABLE outbox ADD COLUMN lease_until INTEGER;
ALTER TABLE outbox ADD COLUMN leased_by TEXT;
-- The relay's scan per peer: pending items, most urgent first.
CREATE INDEX outbox_pending_by_peer ON outbox (peer, priority DESC, seq) WHERE state = 'pending';
-- A court's request listing, newest first, on either side of the work.
CREATE INDEX requests_by_requesting_court ON requests (requesting_court, created_at DESC, id);
CREATE INDEX requests_by_requested_court ON requests (requested_court, created_at DESC, id);
-- The preservation orders a ruling governs.
CREATE INDEX requests_by_family ON requests (family, role);
