-- Every deploy of a config repo's environment: what was deployed (the merge commit of which
-- pull request), when, how it ended, what it did, and where GitHub shows it. The newest
-- successful one of an environment is what a rollback goes back to.
CREATE TABLE deploys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    repository    TEXT    NOT NULL,
    environment   TEXT    NOT NULL,
    merge_sha     TEXT    NOT NULL,
    pull_number   INTEGER,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    outcome       TEXT    NOT NULL,
    created       INTEGER NOT NULL DEFAULT 0,
    configured    INTEGER NOT NULL DEFAULT 0,
    unchanged     INTEGER NOT NULL DEFAULT 0,
    pruned        INTEGER NOT NULL DEFAULT 0,
    deployment_id INTEGER,
    check_run_id  INTEGER
);
CREATE INDEX deploys_by_environment ON deploys (repository, environment, started_at DESC, id DESC);
CREATE INDEX deploys_by_start ON deploys (started_at DESC, id DESC);
