-- The supervision dashboard (src/dashboard/): what its main page reads stays fast with
-- millions of requests stored. The same as the SQLite engine's 0013.

-- Requests opened here, counted per local day (China Standard Time, UTC+8: days since
-- 1970-01-01), kind, side, our court and the partner region. Kept in the transaction
-- that opens the request (store/sql/tx.rs); filled here from the requests already stored.
CREATE TABLE request_volume (
    day      BIGINT NOT NULL,
    family   TEXT NOT NULL,
    role     TEXT NOT NULL,
    court    TEXT NOT NULL,
    partner  TEXT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (day, family, role, court, partner)
);
INSERT INTO request_volume (day, family, role, court, partner, requests)
SELECT (created_at + 28800000) / 86400000, family, role,
       CASE role WHEN 'requester' THEN requesting_court ELSE requested_court END,
       substr(CASE role WHEN 'requester' THEN requested_court ELSE requesting_court END, 1, 2),
       COUNT(*)
FROM requests
GROUP BY 1, 2, 3, 4, 5;

-- Work in flight: the open requests only (the list is the one of workflow::TERMINAL; the
-- dashboard's queries repeat it, written by store::sql::dialect::not_terminal).
CREATE INDEX requests_open ON requests (state, family, role)
    WHERE state NOT IN ('completed', 'refused', 'returned', 'rejected', 'failed', 'mail_returned', 'docketed', 'not_accepted', 'transferred');

-- Cycle times: the latest deadlines met, per deadline.
CREATE INDEX deadlines_met ON deadlines (name, met_at) WHERE met_at IS NOT NULL;
-- Freezes nearing expiry: expiry warnings not closed, by when they fall due.
CREATE INDEX deadlines_unmet ON deadlines (name, due_at) WHERE met_at IS NULL;
-- Partner health: the last delivery to each peer, and what each peer refused.
CREATE INDEX outbox_finished ON outbox (state, peer, done_at);
-- Postal fallback: print jobs opened in a period.
CREATE INDEX print_jobs_by_age ON print_jobs (created_at);
