-- `deadlines_unmet` (name, due_at) held every deadline not yet met, about 63 bytes a
-- service request on each side, and every read of it asks for one warning by name (the
-- dashboard's freezes nearing expiry, a lift finding the freezes it closes: both
-- `freeze.expiry_warning`). It now holds the open warnings only; their reads say
-- `kind = 'warning'` so that SQLite's planner takes this partial index. Deadlines owed
-- are read through the primary key (request_id, name) from the open requests, and falling
-- due through `deadlines_pending`, as before.
DROP INDEX deadlines_unmet;
CREATE INDEX deadlines_unmet ON deadlines (name, due_at) WHERE met_at IS NULL AND kind = 'warning';
