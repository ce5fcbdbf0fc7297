-- The W3C trace id (32 hex digits) one request's messages travel under, across both
-- gateways: kept with the request, each message (the relay sends it in the
-- `traceparent` header, after a restart too) and each history entry. Unauthenticated
-- metadata for operators, never part of what is signed. NULL for rows stored before.
ALTER TABLE requests ADD COLUMN trace_id TEXT;
ALTER TABLE messages ADD COLUMN trace_id TEXT;
ALTER TABLE history ADD COLUMN trace_id TEXT;
