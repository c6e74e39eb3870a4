//! Check runs: created on a commit, updated as work progresses, completed with a conclusion,
//! an output (title, summary, text) and annotations at `file:line`.
//!
//! GitHub takes at most 50 annotations per request and appends those of later PATCHes, so a
//! longer list is sent in chunks; `summary` and `text` are cut (with a note) at 65,535
//! characters rather than refused.

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Auth, GitHub, GitHubError, RepoRef};

/// GitHub's limit on annotations in one create or update request.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;
/// GitHub's limit on `output.summary` and `output.text`, in characters.
pub const CHECK_OUTPUT_LIMIT: usize = 65_535;

/// A check run's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CheckRunId(pub u64);

impl std::fmt::Display for CheckRunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Queued,
    InProgress,
    Completed,
}

/// Setting a conclusion completes the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckConclusion {
    Success,
    Failure,
    Neutral,
    Cancelled,
    TimedOut,
    ActionRequired,
    Skipped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationLevel {
    Notice,
    Warning,
    Failure,
}

/// A message attached to lines of a file in the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Repo-relative path.
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    /// Columns count only on a single line; they are left out otherwise (GitHub refuses them).
    pub start_column: Option<u32>,
    pub end_column: Option<u32>,
    pub level: AnnotationLevel,
    pub message: String,
    pub title: Option<String>,
}

impl Annotation {
    /// A failure annotation on one line.
    pub fn failure_at(path: &str, line: u32, column: Option<u32>, message: &str) -> Self {
        Annotation {
            path: path.to_string(),
            start_line: line,
            end_line: line,
            start_column: column,
            end_column: column,
            level: AnnotationLevel::Failure,
            message: message.to_string(),
            title: None,
        }
    }

    fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("path".into(), json!(self.path));
        out.insert("start_line".into(), json!(self.start_line.max(1)));
        out.insert(
            "end_line".into(),
            json!(self.end_line.max(self.start_line).max(1)),
        );
        if self.start_line == self.end_line {
            if let Some(column) = self.start_column {
                out.insert("start_column".into(), json!(column));
                out.insert(
                    "end_column".into(),
                    json!(self.end_column.unwrap_or(column).max(column)),
                );
            }
        }
        out.insert("annotation_level".into(), json!(self.level));
        out.insert("message".into(), json!(self.message));
        if let Some(title) = &self.title {
            out.insert("title".into(), json!(title));
        }
        Value::Object(out)
    }
}

/// What a check run shows on its page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckRunOutput {
    pub title: String,
    /// Markdown; at most [`CHECK_OUTPUT_LIMIT`] characters (longer is cut, with a note).
    pub summary: String,
    /// Markdown; at most [`CHECK_OUTPUT_LIMIT`] characters (longer is cut, with a note).
    pub text: Option<String>,
    /// Any number: sent [`ANNOTATIONS_PER_REQUEST`] at a time.
    pub annotations: Vec<Annotation>,
}

/// A new check run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRunRequest {
    pub name: String,
    pub head_sha: String,
    /// Default on GitHub: `queued`.
    pub status: Option<CheckStatus>,
    pub conclusion: Option<CheckConclusion>,
    pub details_url: Option<String>,
    pub external_id: Option<String>,
    pub output: Option<CheckRunOutput>,
}

impl CheckRunRequest {
    /// A run `name` on `head_sha` that has started.
    pub fn in_progress(name: &str, head_sha: &str, output: Option<CheckRunOutput>) -> Self {
        CheckRunRequest {
            name: name.to_string(),
            head_sha: head_sha.to_string(),
            status: Some(CheckStatus::InProgress),
            conclusion: None,
            details_url: None,
            external_id: None,
            output,
        }
    }
}

/// A change to an existing check run; `None` fields stay as they are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckRunUpdate {
    pub name: Option<String>,
    pub status: Option<CheckStatus>,
    pub conclusion: Option<CheckConclusion>,
    pub details_url: Option<String>,
    pub output: Option<CheckRunOutput>,
}

impl CheckRunUpdate {
    /// Completes the run with `conclusion` and `output`.
    pub fn completed(conclusion: CheckConclusion, output: CheckRunOutput) -> Self {
        CheckRunUpdate {
            name: None,
            status: Some(CheckStatus::Completed),
            conclusion: Some(conclusion),
            details_url: None,
            output: Some(output),
        }
    }
}

#[derive(Deserialize)]
struct CreatedRun {
    id: u64,
}

/// `text` cut to `limit` characters, ending with a note saying so when it was cut.
pub fn fit_output_text(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    const NOTE: &str = "\n\n… (cut: GitHub shows at most 65,535 characters here)";
    let keep = limit.saturating_sub(NOTE.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(NOTE);
    out
}

/// The JSON of `output` with the annotations of chunk `chunk` (0-based) only.
fn output_json(output: &CheckRunOutput, chunk: usize) -> Value {
    let mut out = Map::new();
    out.insert("title".into(), json!(output.title));
    out.insert(
        "summary".into(),
        json!(fit_output_text(&output.summary, CHECK_OUTPUT_LIMIT)),
    );
    if let Some(text) = &output.text {
        out.insert(
            "text".into(),
            json!(fit_output_text(text, CHECK_OUTPUT_LIMIT)),
        );
    }
    let annotations: Vec<Value> = output
        .annotations
        .chunks(ANNOTATIONS_PER_REQUEST)
        .nth(chunk)
        .unwrap_or(&[])
        .iter()
        .map(Annotation::to_json)
        .collect();
    if !annotations.is_empty() {
        out.insert("annotations".into(), Value::Array(annotations));
    }
    Value::Object(out)
}

/// How many requests `output`'s annotations need (at least one).
fn chunk_count(output: Option<&CheckRunOutput>) -> usize {
    output
        .map(|o| o.annotations.len().div_ceil(ANNOTATIONS_PER_REQUEST))
        .unwrap_or(0)
        .max(1)
}

fn insert_some<T: Serialize>(body: &mut Map<String, Value>, key: &str, value: &Option<T>) {
    if let Some(value) = value {
        body.insert(key.to_string(), json!(value));
    }
}

/// The request bodies of an update, in order: annotation chunks first, so the run completes
/// (status and conclusion are in the last body) only once every annotation is in.
pub fn update_bodies(update: &CheckRunUpdate) -> Vec<Value> {
    let chunks = chunk_count(update.output.as_ref());
    (0..chunks)
        .map(|chunk| {
            let mut body = Map::new();
            if let Some(output) = &update.output {
                body.insert("output".into(), output_json(output, chunk));
            }
            if chunk + 1 == chunks {
                insert_some(&mut body, "name", &update.name);
                insert_some(&mut body, "status", &update.status);
                insert_some(&mut body, "conclusion", &update.conclusion);
                insert_some(&mut body, "details_url", &update.details_url);
            }
            Value::Object(body)
        })
        .collect()
}

/// The create body (with the first annotation chunk) and the PATCH bodies for the rest.
pub fn create_bodies(request: &CheckRunRequest) -> (Value, Vec<Value>) {
    let mut body = Map::new();
    body.insert("name".into(), json!(request.name));
    body.insert("head_sha".into(), json!(request.head_sha));
    insert_some(&mut body, "status", &request.status);
    insert_some(&mut body, "conclusion", &request.conclusion);
    insert_some(&mut body, "details_url", &request.details_url);
    insert_some(&mut body, "external_id", &request.external_id);
    let mut rest = Vec::new();
    if let Some(output) = &request.output {
        body.insert("output".into(), output_json(output, 0));
        for chunk in 1..chunk_count(Some(output)) {
            rest.push(json!({ "output": output_json(output, chunk) }));
        }
    }
    (Value::Object(body), rest)
}

impl GitHub {
    /// Creates a check run; annotations beyond the first 50 follow in PATCHes.
    pub async fn create_check_run(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        request: &CheckRunRequest,
    ) -> Result<CheckRunId, GitHubError> {
        let (first, rest) = create_bodies(request);
        let path = format!("{}/check-runs", repo.api_path());
        let created: CreatedRun = self
            .send_json(
                Method::POST,
                Auth::Installation(installation_id),
                &path,
                &first,
            )
            .await?;
        let id = CheckRunId(created.id);
        for body in rest {
            self.patch_check_run(installation_id, repo, id, &body)
                .await?;
        }
        Ok(id)
    }

    /// The check run called `name` on commit `sha` whose `external_id` is `external_id`,
    /// if slipway made one: how a retried handler finds the run it created before a crash.
    pub async fn find_check_run(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        sha: &str,
        name: &str,
        external_id: &str,
    ) -> Result<Option<CheckRunId>, GitHubError> {
        #[derive(Deserialize)]
        struct Listed {
            id: u64,
            external_id: Option<String>,
        }
        #[derive(Deserialize)]
        struct Page {
            check_runs: Vec<Listed>,
        }
        let path = format!(
            "{}/commits/{sha}/check-runs?check_name={}&filter=all&per_page=100",
            repo.api_path(),
            super::permissions::encode_path_segment(name)
        );
        let page: Page = self.get(Auth::Installation(installation_id), &path).await?;
        Ok(page
            .check_runs
            .into_iter()
            .find(|run| run.external_id.as_deref() == Some(external_id))
            .map(|run| CheckRunId(run.id)))
    }

    /// Updates a check run: one PATCH, or one per 50 annotations (the last one completes it).
    pub async fn update_check_run(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        id: CheckRunId,
        update: &CheckRunUpdate,
    ) -> Result<(), GitHubError> {
        for body in update_bodies(update) {
            self.patch_check_run(installation_id, repo, id, &body)
                .await?;
        }
        Ok(())
    }

    async fn patch_check_run(
        &self,
        installation_id: i64,
        repo: &RepoRef,
        id: CheckRunId,
        body: &Value,
    ) -> Result<(), GitHubError> {
        let path = format!("{}/check-runs/{id}", repo.api_path());
        self.request(
            Method::PATCH,
            Auth::Installation(installation_id),
            &path,
            Some(body),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(count: usize) -> Vec<Annotation> {
        (0..count)
            .map(|n| Annotation::failure_at("envs/dev/a.yaml", n as u32 + 1, None, "bad"))
            .collect()
    }

    fn output(count: usize) -> CheckRunOutput {
        CheckRunOutput {
            title: "t".into(),
            summary: "s".into(),
            text: None,
            annotations: annotations(count),
        }
    }

    fn annotation_count(body: &Value) -> usize {
        body["output"]["annotations"].as_array().map_or(0, Vec::len)
    }

    #[test]
    fn an_update_with_120_annotations_is_three_patches_and_only_the_last_completes() {
        let update = CheckRunUpdate::completed(CheckConclusion::Failure, output(120));
        let bodies = update_bodies(&update);
        assert_eq!(
            bodies.iter().map(annotation_count).collect::<Vec<_>>(),
            [50, 50, 20]
        );
        assert!(bodies[..2].iter().all(|b| b.get("conclusion").is_none()));
        assert_eq!(bodies[2]["conclusion"], "failure");
        assert_eq!(bodies[2]["status"], "completed");
        assert!(bodies.iter().all(|b| b["output"]["title"] == "t"));
    }

    #[test]
    fn a_small_update_is_one_patch() {
        let bodies = update_bodies(&CheckRunUpdate::completed(
            CheckConclusion::Success,
            output(0),
        ));
        assert_eq!(bodies.len(), 1);
        assert!(bodies[0]["output"].get("annotations").is_none());
    }

    #[test]
    fn a_create_carries_the_first_fifty_and_the_rest_follow() {
        let mut request = CheckRunRequest::in_progress("slipway/preview", "abc", Some(output(51)));
        request.conclusion = Some(CheckConclusion::Failure);
        let (first, rest) = create_bodies(&request);
        assert_eq!(annotation_count(&first), 50);
        assert_eq!(first["name"], "slipway/preview");
        assert_eq!(first["status"], "in_progress");
        assert_eq!(rest.len(), 1);
        assert_eq!(annotation_count(&rest[0]), 1);
    }

    #[test]
    fn columns_are_sent_only_for_single_line_annotations() {
        let one_line = Annotation::failure_at("a.yaml", 3, Some(5), "m").to_json();
        assert_eq!(one_line["start_column"], 5);
        assert_eq!(one_line["end_column"], 5);
        let mut span = Annotation::failure_at("a.yaml", 3, Some(5), "m");
        span.end_line = 4;
        assert!(span.to_json().get("start_column").is_none());
    }

    #[test]
    fn long_text_is_cut_with_a_note_within_the_limit() {
        let text = "é".repeat(70_000);
        let cut = fit_output_text(&text, CHECK_OUTPUT_LIMIT);
        assert_eq!(cut.chars().count(), CHECK_OUTPUT_LIMIT);
        assert!(cut.ends_with("65,535 characters here)"));
        assert_eq!(fit_output_text("short", CHECK_OUTPUT_LIMIT), "short");
    }
}
