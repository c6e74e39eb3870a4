-- The sticky preview comments of each pull request, one row per part, so a repeat preview edits
-- them in place without listing the conversation.
CREATE TABLE preview_comments (
    repository  TEXT    NOT NULL,
    pull_number INTEGER NOT NULL,
    part        INTEGER NOT NULL,
    comment_id  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (repository, pull_number, part)
);
