-- Values slipway makes for itself once and every replica and restart must share, by name
-- (the key Secret fingerprints are made with).
CREATE TABLE settings (
    name       TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
