-- Legal clocks on requests: deadlines (work owed by a due time) and warnings (e.g. a
-- freeze about to expire). passed_at is when the gateway told its court the time had come.

CREATE TABLE deadlines (
    request_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('deadline', 'warning')),
    due_at     INTEGER NOT NULL,
    met_at     INTEGER,
    passed_at  INTEGER,
    PRIMARY KEY (request_id, name)
);
CREATE INDEX deadlines_pending ON deadlines (due_at) WHERE met_at IS NULL AND passed_at IS NULL;
