-- A receipt's time (Unix milliseconds) and signature (its 64 bytes) in columns of their
-- own, out of its JSON body (see src/store/sql/receipt_rows.rs): about 70 bytes less a
-- receipt. NULL for rows stored before, whose body keeps both.
ALTER TABLE receipts ADD COLUMN at INTEGER;
ALTER TABLE receipts ADD COLUMN signature BLOB;
