-- Webhook deliveries: the durable queue. `id` is GitHub's X-GitHub-Delivery GUID, which stays the
-- same on redelivery and is the dedupe key. Times are Unix milliseconds.
CREATE TABLE deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    event           TEXT    NOT NULL,
    action          TEXT,
    installation_id INTEGER,
    repository      TEXT,
    ordering_key    TEXT,
    received_at     INTEGER NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    started_at      INTEGER,
    finished_at     INTEGER,
    last_error      TEXT
);
CREATE INDEX deliveries_by_state ON deliveries (state, seq);

-- Payloads live apart from the queue's rows: a row the dispatcher scans stays a few dozen bytes
-- instead of dragging a multi-kilobyte blob's overflow pages through every query.
CREATE TABLE delivery_payloads (
    seq     INTEGER PRIMARY KEY REFERENCES deliveries (seq) ON DELETE CASCADE,
    payload BLOB    NOT NULL
);

CREATE TABLE installations (
    id                   INTEGER PRIMARY KEY,
    account              TEXT,
    account_type         TEXT,
    repository_selection TEXT,
    suspended            INTEGER NOT NULL DEFAULT 0,
    deleted              INTEGER NOT NULL DEFAULT 0,
    updated_at           INTEGER NOT NULL
);

CREATE TABLE installation_repositories (
    installation_id INTEGER NOT NULL,
    full_name       TEXT    NOT NULL,
    PRIMARY KEY (installation_id, full_name)
);

-- Redeliveries slipway asked GitHub for, so a scan never asks twice for the same delivery.
CREATE TABLE redelivery_requests (
    guid               TEXT PRIMARY KEY,
    github_delivery_id INTEGER NOT NULL,
    requested_at       INTEGER NOT NULL
);
