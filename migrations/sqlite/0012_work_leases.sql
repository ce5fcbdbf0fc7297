-- The court's work queue hands items out under a lease: until lease_until no other poller
-- gets the item; it is retrieved only when the court acknowledges it.
ALTER TABLE inbox ADD COLUMN lease_until INTEGER;
