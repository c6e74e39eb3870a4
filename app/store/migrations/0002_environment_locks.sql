-- Environment locks set by `/lock`: while one exists nothing deploys to, or is bumped in, that
-- environment of that config repo. Keyed by what they protect.
CREATE TABLE environment_locks (
    repository  TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    locked_by   TEXT    NOT NULL,
    reason      TEXT,
    locked_at   INTEGER NOT NULL,
    PRIMARY KEY (repository, environment)
);
