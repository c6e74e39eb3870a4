//! Sticky comments: each part of a preview is one comment carrying a hidden marker, created
//! once and edited in place ever after. The store remembers the comment ids, so a repeat
//! preview edits without listing the conversation; the listing (and the markers) is the
//! fallback when the store knows nothing or a comment vanished.

use std::collections::BTreeMap;

use crate::github::{GitHub, GitHubError, IssueComment, RepoRef};
use crate::queue::HandlerError;
use crate::store::Store;

const MARKER_PREFIX: &str = "<!-- slipway:preview part=";

/// The hidden first line of part `part` (1-based).
pub fn marker(part: usize) -> String {
    format!("{MARKER_PREFIX}{part} -->")
}

/// The part a comment body is, when it starts with a preview marker.
pub fn part_of(body: &str) -> Option<usize> {
    let rest = body.strip_prefix(MARKER_PREFIX)?;
    let (number, _) = rest.split_once(" -->")?;
    number.parse().ok().filter(|part| *part > 0)
}

/// Part `part`'s comment body: its marker line, then the markdown.
pub fn body(part: usize, markdown: &str) -> String {
    format!("{}\n{markdown}", marker(part))
}

/// The preview comments found in a conversation: the oldest per part, and every other one
/// (duplicates) to delete. Only bot comments count: a user quoting a marker is not slipway.
pub fn discover(comments: &[IssueComment]) -> (BTreeMap<usize, u64>, Vec<u64>) {
    let mut found: BTreeMap<usize, u64> = BTreeMap::new();
    let mut duplicates = Vec::new();
    for comment in comments.iter().filter(|c| c.is_by_bot()) {
        let Some(part) = part_of(&comment.body) else {
            continue;
        };
        match found.get(&part) {
            Some(&kept) if kept <= comment.id => duplicates.push(comment.id),
            Some(&kept) => {
                duplicates.push(kept);
                found.insert(part, comment.id);
            }
            None => {
                found.insert(part, comment.id);
            }
        }
    }
    (found, duplicates)
}

/// Where the comments of one pull request's preview are.
pub struct Thread<'a> {
    pub github: &'a GitHub,
    pub store: &'a Store,
    pub installation_id: i64,
    pub repo: &'a RepoRef,
    pub number: u64,
}

impl Thread<'_> {
    async fn list(&self) -> Result<(BTreeMap<usize, u64>, Vec<u64>), GitHubError> {
        let comments = self
            .github
            .list_issue_comments(self.installation_id, self.repo, self.number)
            .await?;
        Ok(discover(&comments))
    }

    /// Makes the conversation show exactly `bodies` as the preview's parts, in order; returns
    /// their comment ids.
    pub async fn upsert(&self, bodies: &[String]) -> Result<Vec<u64>, HandlerError> {
        let repository = self.repo.to_string();
        let remembered = self
            .store
            .preview_comments(&repository, self.number)
            .await?;
        let mut slots: BTreeMap<usize, u64> = remembered
            .iter()
            .enumerate()
            .map(|(index, id)| (index + 1, *id))
            .collect();
        let mut to_delete: Vec<u64> = Vec::new();
        let mut listed = false;
        if slots.is_empty() {
            let (found, duplicates) = self.list().await?;
            slots = found;
            to_delete.extend(duplicates);
            listed = true;
        }

        let mut ids = Vec::with_capacity(bodies.len());
        for (index, text) in bodies.iter().enumerate() {
            let part = index + 1;
            let mut edited = None;
            if let Some(&id) = slots.get(&part) {
                edited = self.edit(id, text).await?;
            }
            if edited.is_none() && !listed {
                // A part the store does not know (or whose comment is gone): it may exist
                // all the same, from a run that stopped before it could remember it.
                let (found, duplicates) = self.list().await?;
                listed = true;
                for (found_part, id) in found {
                    if found_part <= ids.len() {
                        // Already settled in this run: another comment for it is a duplicate.
                        if ids[found_part - 1] != id {
                            to_delete.push(id);
                        }
                    } else if let Some(previous) = slots.insert(found_part, id) {
                        if previous != id {
                            to_delete.push(previous);
                        }
                    }
                }
                to_delete.extend(duplicates);
                if let Some(&id) = slots.get(&part) {
                    edited = self.edit(id, text).await?;
                }
            }
            let id = match edited {
                Some(id) => id,
                None => {
                    self.github
                        .create_issue_comment(self.installation_id, self.repo, self.number, text)
                        .await?
                        .id
                }
            };
            slots.insert(part, id);
            ids.push(id);
        }

        // Parts the report no longer needs, and duplicates from earlier races.
        to_delete.extend(slots.range(bodies.len() + 1..).map(|(_, id)| *id));
        to_delete.retain(|id| !ids.contains(id));
        to_delete.sort_unstable();
        to_delete.dedup();
        for id in to_delete {
            match self
                .github
                .delete_issue_comment(self.installation_id, self.repo, id)
                .await
            {
                Ok(()) | Err(GitHubError::Status { status: 404, .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        self.store
            .set_preview_comments(&repository, self.number, &ids)
            .await?;
        Ok(ids)
    }

    /// Edits comment `id`; `None` when it no longer exists (someone deleted it).
    async fn edit(&self, id: u64, text: &str) -> Result<Option<u64>, HandlerError> {
        match self
            .github
            .update_issue_comment(self.installation_id, self.repo, id, text)
            .await
        {
            Ok(_) => Ok(Some(id)),
            Err(GitHubError::Status { status: 404, .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(id: u64, body: &str, bot: bool) -> IssueComment {
        IssueComment {
            id,
            body: body.to_string(),
            user_login: if bot { "slipway[bot]" } else { "alice" }.to_string(),
            user_type: if bot { "Bot" } else { "User" }.to_string(),
            created_at: String::new(),
        }
    }

    #[test]
    fn markers_round_trip_and_other_text_is_no_part() {
        assert_eq!(part_of(&body(3, "## slipway")), Some(3));
        assert_eq!(part_of("<!-- slipway:preview part=0 -->"), None);
        assert_eq!(part_of("looks good <!-- slipway:preview part=1 -->"), None);
        assert_eq!(part_of("<!-- slipway:preview part=x -->"), None);
    }

    #[test]
    fn the_oldest_bot_comment_per_part_is_kept_and_later_copies_are_duplicates() {
        let comments = [
            comment(5, &body(1, "a"), true),
            comment(6, &body(1, "quoted"), false),
            comment(7, &body(2, "b"), true),
            comment(9, &body(1, "again"), true),
            comment(3, &body(2, "older"), true),
        ];
        let (found, duplicates) = discover(&comments);
        assert_eq!(found, BTreeMap::from([(1, 5), (2, 3)]));
        assert_eq!(duplicates, [9, 7]);
    }
}
