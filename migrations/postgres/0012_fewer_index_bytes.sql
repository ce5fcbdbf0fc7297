-- Fewer index bytes per request (issue 12: bytes stored per request).

-- The overdue and due-soon lists probe each open request's deadlines through the
-- primary key (request_id, name): a request has a few deadlines, so this index, which
-- held the same rows again, is not needed.
DROP INDEX deadlines_owed;

-- A court's listing: ascending indexes, read backwards for newest first. New requests
-- come at the end of each court's range, so pages fill up, where the descending ones
-- split half full (requests_by_requesting_court was 47% unused).
DROP INDEX requests_by_requesting_court;
DROP INDEX requests_by_requested_court;
CREATE INDEX requests_by_requesting_court ON requests (requesting_court, created_at, id)
    WHERE role = 'requester';
CREATE INDEX requests_by_requested_court ON requests (requested_court, created_at, id)
    WHERE role = 'executor';
