-- Runs: long work (a build, a deploy) that outlives the queue worker that started it. The row is
-- the run's whole truth: the supervisor persists every transition before acting on it, so a
-- restarted process resumes from here. Times are Unix milliseconds.
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL,
    -- An opaque key of what the run works on, e.g. `acme/api@<sha>` or `acme/config#12:prod`.
    subject       TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'running', 'waiting', 'succeeded',
                                                    'failed', 'timed_out', 'cancelled')),
    -- 1 on the first try of the current step; a retryable step error counts one more.
    attempt       INTEGER NOT NULL DEFAULT 1,
    deadline_at   INTEGER NOT NULL,
    -- When a pending or waiting run is stepped next; NULL while it waits for a signal only.
    next_wake_at  INTEGER,
    -- The signal key a waiting run waits for.
    wait_signal   TEXT,
    -- JSON the run's kind owns: where it is and what it needs to go on.
    progress      TEXT    NOT NULL,
    outcome       TEXT,
    -- A timed-out run whose kind has not yet cleaned up (its `on_timeout` hook).
    hook_pending  INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    finished_at   INTEGER
);
-- One active run per (kind, subject): a second start is refused, so a retried handler that starts
-- the same run again does not start it twice.
CREATE UNIQUE INDEX runs_one_active_per_subject ON runs (kind, subject)
    WHERE state IN ('pending', 'running', 'waiting');
CREATE INDEX runs_by_state ON runs (state, next_wake_at);

-- Signals sent to a run (a watch event, a re-requested check run), kept until a step of the run
-- has seen them, so one that arrives while no supervisor runs is not lost.
CREATE TABLE run_signals (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key         TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX run_signals_by_run ON run_signals (run_id, key);

-- Leases of periodic jobs: a scheduler runs a job only while it holds the job's row, so two
-- replicas on one database never run the same job at once.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
