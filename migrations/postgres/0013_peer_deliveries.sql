-- A delivered outbox item's row is deleted when the peer acknowledges it (its relay
-- receipt and history entry say what happened); all that was read of delivered rows was
-- each peer's last delivery, now kept here, one row per peer. Dead items keep their rows.
CREATE TABLE peer_deliveries (
    peer    TEXT PRIMARY KEY,
    last_at BIGINT NOT NULL
);
INSERT INTO peer_deliveries (peer, last_at)
SELECT peer, MAX(done_at) FROM outbox WHERE state = 'delivered' AND done_at IS NOT NULL GROUP BY peer;
