-- Idempotency answers kept compact (see src/store/sql/answers.rs): an answer about a
-- message stored in the same transaction leaves the fields that message's row and its
-- submission receipt say to them. `answered` names that message; `elided` has a bit for
-- each field left out (messageId 1, requestId 2, envelopeSha256 4, receipt 8, traceId 16).
-- Rows stored before have neither and keep their whole answer.
ALTER TABLE idempotency ADD COLUMN answered TEXT;
ALTER TABLE idempotency ADD COLUMN elided INTEGER NOT NULL DEFAULT 0;
