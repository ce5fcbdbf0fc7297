-- When a request's answers met which deadlines, kept even before the deadline's clock is
-- started here: on the requesting side an answer can arrive before the gateway has filed
-- the relay receipt that starts the clocks; starting a clock then finds it already met.
CREATE TABLE deadline_meets (
    request_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    met_at     INTEGER NOT NULL,
    PRIMARY KEY (request_id, name)
);
