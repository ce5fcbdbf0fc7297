-- Print jobs: postal service a commissioned service fell back to, at one of this region's
-- print centres. The job is a notice in the centre's inbox; the centre's events move it,
-- and reach the requesting court as service.attempt updates of the service request.
CREATE TABLE print_jobs (
    id           TEXT PRIMARY KEY,
    request_id   TEXT NOT NULL,
    print_centre TEXT NOT NULL,
    state        TEXT NOT NULL,
    job          TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX print_jobs_by_request ON print_jobs (request_id);
