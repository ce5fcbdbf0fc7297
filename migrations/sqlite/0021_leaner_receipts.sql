-- Receipts kept leaner (see src/store/sql/receipts.rs): a new row's body leaves out the
-- fields its columns say (hop, messageId, issuer). A request's receipts are found through
-- its messages (messages_by_request, then the unique index on message_id, hop, issuer),
-- so the receipts no longer keep the request id, nor an index on it.
DROP INDEX receipts_by_request;
ALTER TABLE receipts DROP COLUMN request_id;
