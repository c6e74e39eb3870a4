-- What a deploy did, in detail (every object applied and with what action, what was pruned, the
-- result's particulars, the installation it ran under), as JSON: the pull request's comment is
-- rebuilt from it, the next deploy prunes by the objects it lists, drift checks compare them.
ALTER TABLE deploys ADD COLUMN detail TEXT;
CREATE INDEX deploys_by_merge ON deploys (repository, merge_sha);
