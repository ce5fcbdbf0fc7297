-- A receipt's time (Unix milliseconds) and signature (its 64 bytes) in columns of their
-- own, out of its JSON body (see src/store/sql/receipt_rows.rs). NULL for rows stored
-- before, whose body keeps both.
ALTER TABLE receipts ADD COLUMN at BIGINT;
ALTER TABLE receipts ADD COLUMN signature BYTEA;
