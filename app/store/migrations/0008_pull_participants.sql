-- Who may not approve a pull request, recorded from what GitHub and slipway saw rather than from
-- anything a writer can edit: everyone who pushed to its head (`pull_request` opened, reopened
-- and synchronize carry the pusher as `sender`), and, for the pull requests slipway opens
-- itself, whoever's push or comment caused them.
CREATE TABLE pull_participants (
    repository  TEXT    NOT NULL,
    number      INTEGER NOT NULL,
    login       TEXT    NOT NULL COLLATE NOCASE,
    role        TEXT    NOT NULL CHECK (role IN ('pusher', 'requester')),
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (repository, number, login, role)
);

-- The latest time a pull request's base branch changed (`pull_request` edited with
-- `changes.base`): reviews submitted until then were given against another base.
CREATE TABLE pull_base_changes (
    repository TEXT    NOT NULL,
    number     INTEGER NOT NULL,
    changed_at INTEGER NOT NULL,
    PRIMARY KEY (repository, number)
);
