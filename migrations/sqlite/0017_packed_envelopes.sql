-- Envelopes are stored compressed (see src/store/sql/packed.rs): a new message keeps ''
-- in `envelope` and its compressed JSON text in `envelope_z`. Rows stored before keep
-- their text in `envelope`; both forms are read.
ALTER TABLE messages ADD COLUMN envelope_z BLOB;
