-- Unread inbox items, most urgent first: the court's work queue (preservation first).
CREATE INDEX inbox_unread ON inbox (court, priority DESC, seq) WHERE retrieved_at IS NULL;
