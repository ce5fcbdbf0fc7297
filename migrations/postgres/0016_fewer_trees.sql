-- Fewer indexes written per request (issue 12; SQLite's 0027 says why). An outbox row
-- lives from the submission's commit to the delivery's, so each index is written twice a
-- request: the UNIQUE on message_id (messages.id is unique, and the row goes in with its
-- message), outbox_due (the relay reads each peer's items through
-- outbox_pending_by_peer) and outbox_finished (which held the pending rows too; only
-- dead rows are read as finished, delivered ones are deleted) go; outbox_dead stays.
ALTER TABLE outbox DROP CONSTRAINT outbox_message_id_key;
DROP INDEX outbox_due;
DROP INDEX outbox_finished;
CREATE INDEX outbox_dead ON outbox (peer, done_at) WHERE state = 'dead';

-- The purge finds candidates by when a request was opened, not last changed, so a change
-- of state no longer moves an index entry (SQLite's 0027).
DROP INDEX requests_to_purge;
CREATE INDEX requests_to_purge ON requests (agreement_id, created_at) WHERE purged_at IS NULL;
