-- Fewer and smaller indexes on the hot path: each now holds only the rows its queries
-- read, so a finished request no longer sits in the relay's indexes, and a request is in
-- one court listing index, not both.

-- Nothing reads requests by family alone (the lift of a freeze starts from its open
-- expiry warning in `deadlines`).
DROP INDEX requests_by_family;

-- A court's listing reads its requests as requester by requesting court and as executor
-- by requested court (see read_requests).
DROP INDEX requests_by_requesting_court;
DROP INDEX requests_by_requested_court;
CREATE INDEX requests_by_requesting_court ON requests (requesting_court, created_at DESC, id)
    WHERE role = 'requester';
CREATE INDEX requests_by_requested_court ON requests (requested_court, created_at DESC, id)
    WHERE role = 'executor';

-- The relay reads pending items only; delivered and dead ones are found through
-- outbox_finished.
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (state, priority DESC, seq) WHERE state = 'pending';
DROP INDEX outbox_by_request;
CREATE INDEX outbox_pending_by_request ON outbox (request_id, state, seq) WHERE state = 'pending';
