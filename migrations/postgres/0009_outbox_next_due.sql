-- When the relay's next retry falls due: the earliest future next_attempt_at of a pending
-- item, found by a seek in this index rather than a scan of every pending item (which
-- made each wake of the relay cost as much as the whole queue while a peer was down or
-- its slots were full, so that draining a long queue took time quadratic in its length).
CREATE INDEX outbox_pending_next ON outbox (next_attempt_at) WHERE state = 'pending';
