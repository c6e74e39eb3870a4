//! Everything slipway posted through the fake (comments created and edited, reactions added,
//! check runs created and updated, deployments and their statuses, issues opened and
//! changed), and whether the test has read it. A scenario that ends with something unread
//! fails, so an extra comment or a second check run cannot pass unnoticed.

use super::deployments::FakeDeployment;
use super::model::{FakeCheckRun, FakeComment, FakeIssue};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Posted {
    /// `edit` 0 is the comment as created, then one per edit.
    Comment {
        id: u64,
        edit: usize,
    },
    Reaction {
        comment: u64,
        content: String,
    },
    /// `update` 0 is the check run as created, then one per update.
    CheckRun {
        id: u64,
        update: usize,
    },
    Deployment {
        id: u64,
    },
    /// `edit` 0 is the issue as opened, then one per change (title, body or state).
    Issue {
        repo: String,
        number: u64,
        edit: usize,
    },
    /// `status` 1 is the deployment's first status.
    DeploymentStatus {
        deployment: u64,
        status: usize,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    what: Posted,
    /// What a reader would see of it, for the listing of what was never read.
    gist: String,
    read: bool,
}

#[derive(Debug, Default)]
pub struct PostedLog {
    entries: Vec<Entry>,
}

impl PostedLog {
    pub fn comment_written(&mut self, comment: &FakeComment) {
        let verb = if comment.edits == 0 {
            "posted".to_string()
        } else {
            format!("edited (edit {})", comment.edits)
        };
        self.push(
            Posted::Comment {
                id: comment.id,
                edit: comment.edits,
            },
            format!(
                "comment {} on #{} {verb}: {}",
                comment.id,
                comment.issue_number,
                first_line(&comment.body)
            ),
        );
    }

    pub fn reaction_added(&mut self, comment: &FakeComment, content: &str) {
        self.push(
            Posted::Reaction {
                comment: comment.id,
                content: content.to_string(),
            },
            format!(
                "reaction {content} on comment {} by {}: {}",
                comment.id,
                comment.user_login,
                first_line(&comment.body)
            ),
        );
    }

    pub fn check_run_written(&mut self, run: &FakeCheckRun) {
        let update = run.status_history.len().saturating_sub(1);
        let verb = if update == 0 {
            "created".to_string()
        } else {
            format!("updated (update {update})")
        };
        self.push(
            Posted::CheckRun { id: run.id, update },
            format!(
                "check run {} `{}` on {} {verb}: {} {} {}",
                run.id,
                run.name,
                &run.head_sha[..run.head_sha.len().min(7)],
                run.status,
                run.conclusion.as_deref().unwrap_or("-"),
                run.title.as_deref().unwrap_or("(no title)")
            ),
        );
    }

    pub fn deployment_written(&mut self, deployment: &FakeDeployment) {
        self.push(
            Posted::Deployment { id: deployment.id },
            format!(
                "deployment {} of {} to `{}` created",
                deployment.id,
                &deployment.sha[..deployment.sha.len().min(7)],
                deployment.environment
            ),
        );
    }

    /// The deployment's `count`th status (1-based, GitHub's own included) was posted.
    pub fn deployment_status_written(&mut self, deployment: &FakeDeployment, count: usize) {
        let status = &deployment.statuses[count - 1];
        self.push(
            Posted::DeploymentStatus {
                deployment: deployment.id,
                status: count,
            },
            format!(
                "deployment {} to `{}`: status {} {}",
                deployment.id, deployment.environment, status.state, status.description
            ),
        );
    }

    pub fn issue_written(&mut self, issue: &FakeIssue) {
        let verb = if issue.edits == 0 {
            "opened".to_string()
        } else {
            format!("edited (edit {})", issue.edits)
        };
        self.push(
            Posted::Issue {
                repo: issue.repo.clone(),
                number: issue.number,
                edit: issue.edits,
            },
            format!(
                "issue #{} {verb}, {}: {}",
                issue.number, issue.state, issue.title
            ),
        );
    }

    /// The test saw `issue` as it is now: its opening and every change up to now are read.
    pub fn read_issue(&mut self, issue: &FakeIssue) {
        self.mark(|what| {
            matches!(what, Posted::Issue { repo, number, edit }
                if *repo == issue.repo && *number == issue.number && *edit <= issue.edits)
        });
    }

    /// The test saw `deployment` and its statuses as they are now.
    pub fn read_deployment(&mut self, deployment: &FakeDeployment) {
        let seen = deployment.statuses.len();
        self.mark(|what| match what {
            Posted::Deployment { id } => *id == deployment.id,
            Posted::DeploymentStatus {
                deployment: d,
                status,
            } => *d == deployment.id && *status <= seen,
            _ => false,
        });
    }

    /// The test saw `comment` as it is now: its creation and every edit up to now are read.
    pub fn read_comment(&mut self, comment: &FakeComment) {
        self.mark(|what| matches!(what, Posted::Comment { id, edit } if *id == comment.id && *edit <= comment.edits));
    }

    pub fn read_reaction(&mut self, comment: u64, content: &str) {
        self.mark(|what| {
            matches!(what, Posted::Reaction { comment: c, content: r } if *c == comment && r == content)
        });
    }

    pub fn read_check_run(&mut self, run: &FakeCheckRun) {
        let seen = run.status_history.len().saturating_sub(1);
        self.mark(|what| matches!(what, Posted::CheckRun { id, update } if *id == run.id && *update <= seen));
    }

    /// What was posted and never read, one line each, in the order it was posted.
    pub fn unread(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| !e.read)
            .map(|e| e.gist.clone())
            .collect()
    }

    fn push(&mut self, what: Posted, gist: String) {
        self.entries.push(Entry {
            what,
            gist,
            read: false,
        });
    }

    fn mark(&mut self, matches: impl Fn(&Posted) -> bool) {
        for entry in self.entries.iter_mut().filter(|e| matches(&e.what)) {
            entry.read = true;
        }
    }
}

fn first_line(text: &str) -> String {
    // Sticky comments start with their hidden marker; the line after it says what they are.
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with("<!--"))
        .unwrap_or("");
    let mut shown: String = line.chars().take(100).collect();
    if shown.len() < line.len() {
        shown.push('…');
    }
    shown
}
