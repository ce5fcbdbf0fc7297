-- Assets frozen by work this gateway's courts executed, in the order the freezes took
-- hold: a later freeze on the same asset queues behind the earlier ones (轮候) until they
-- are lifted.
CREATE TABLE frozen_assets (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    asset_key   TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    asset_index INTEGER NOT NULL,
    ruling      TEXT NOT NULL,
    frozen_at   INTEGER NOT NULL,
    lifted_at   INTEGER,
    UNIQUE (request_id, asset_index)
);
CREATE INDEX frozen_assets_active ON frozen_assets (asset_key, seq) WHERE lifted_at IS NULL;
CREATE INDEX frozen_assets_by_ruling ON frozen_assets (ruling) WHERE lifted_at IS NULL;
