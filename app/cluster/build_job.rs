//! The build Job and its source Secret, rendered from a template.
//!
//! Templates are minijinja over YAML. Every printed value is a JSON literal (JSON is YAML), so
//! a branch named `x"}}\n  command: [sh]` stays one string where the template put it. The
//! installation token never enters the template: it lives only in the Secret built here, which
//! the Job references by name and key.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::names::{branch_tag, job_name, label_value};
use super::template::BuildTemplate;

/// The key of the token in the source Secret.
pub const TOKEN_KEY: &str = "token";

/// The label naming a build's Job, on the Job, its pods and its Secret: what slipway watches.
pub const BUILD_LABEL: &str = "slipway.dev/build";

/// The label carrying slipway's run id, so a changed Job or pod maps back to its run.
pub const RUN_LABEL: &str = "slipway.dev/run";

/// Jobs slipway built keep their pods this long after finishing, for logs, unless the
/// template says otherwise.
const DEFAULT_TTL_SECONDS: i32 = 3600;

/// A commit message is kept to this many characters: annotations share a 256 KiB budget and a
/// Job the API server refuses builds nothing.
pub const MAX_COMMIT_MESSAGE: usize = 1024;

/// Fetches exactly the pushed commit into /workspace. The token comes from the environment and
/// goes to git through its environment config, never through a command line.
const GIT_FETCH_SCRIPT: &str = r#"set -eu
auth=$(printf 'x-access-token:%s' "$GIT_TOKEN" | base64 | tr -d '\n')
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.extraHeader GIT_CONFIG_VALUE_0="Authorization: Basic $auth"
git init -q /workspace
cd /workspace
git fetch -q --depth=1 "$SOURCE_URL" "$SOURCE_SHA"
git checkout -q --detach FETCH_HEAD
"#;

/// Pushes the image tarball the build step wrote, with the registry credential that only this
/// step mounts, and leaves the pushed digest as the container's termination message
/// (`state.terminated.message`), where slipway reads it. It runs no user code.
const PUSH_SCRIPT: &str = r#"set -eu
ref=$(crane push "$IMAGE_TAR" "$DESTINATION")
echo "pushed $ref"
printf '%s' "${ref##*@}" > /dev/termination-log
"#;

/// Where the build step writes the image and the push step reads it.
pub const IMAGE_TAR: &str = "/image/image.tar";

/// One `--build-arg` / `build-arg:` pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BuildArg {
    pub key: String,
    pub value: String,
}

/// Everything one build needs; the user-controlled parts (branch, commit message, repo, build
/// args, paths) are escaped by rendering, not trusted by it.
#[derive(Clone)]
pub struct BuildSpec {
    /// `owner/name` of the app repo.
    pub repo: String,
    /// HTTPS URL the source is fetched from.
    pub clone_url: String,
    /// The pushed commit, 40 hex digits.
    pub sha: String,
    pub branch: String,
    /// The repository's default branch: its builds push the commit's SHA tag, every other
    /// branch's push a `branch-` tag.
    pub default_branch: String,
    pub commit_message: String,
    /// 0 for the first build of a SHA; a re-run gets a new Job name.
    pub attempt: u32,
    /// `build.image`: a repository without tag or digest.
    pub image: String,
    /// `build.dockerfile`, repo-relative.
    pub dockerfile: String,
    /// `build.context`, repo-relative.
    pub context: String,
    pub build_args: Vec<BuildArg>,
    /// The short-lived installation token the source is fetched with.
    pub token: String,
    pub namespace: String,
    pub executor_image: String,
    /// The docker-config Secret (`.dockerconfigjson`) holding registry credentials.
    pub registry_secret: String,
    pub timeout: Duration,
    /// slipway's run this build belongs to, labelled on the Job and its pods.
    pub run_id: Option<i64>,
}

impl std::fmt::Debug for BuildSpec {
    // The token stays out of every log line and panic message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildSpec")
            .field("repo", &self.repo)
            .field("sha", &self.sha)
            .field("branch", &self.branch)
            .field("attempt", &self.attempt)
            .field("image", &self.image)
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

/// The objects one build creates: the Secret first, then the Job that reads it.
#[derive(Clone)]
pub struct BuildObjects {
    pub job: Job,
    pub secret: Secret,
}

impl std::fmt::Debug for BuildObjects {
    // The Secret holds the token: only names reach a log line or a panic message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildObjects")
            .field("job", &self.job.metadata.name)
            .field("secret", &self.secret.metadata.name)
            .finish_non_exhaustive()
    }
}

impl BuildObjects {
    /// Makes the Job the Secret's owner, so the token is garbage-collected with the Job. The
    /// Job's uid exists only once the API server created it.
    pub fn own_secret(&mut self, job_uid: &str) {
        self.secret.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "batch/v1".to_string(),
            kind: "Job".to_string(),
            name: self.job.metadata.name.clone().unwrap_or_default(),
            uid: job_uid.to_string(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildJobError {
    #[error("{file}:{line}: the build template does not parse: {message}")]
    Template {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}:{line}:{column}: the build template does not render a valid Job: {message}")]
    InvalidJob {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: the build template renders a Job {problem}")]
    UnsafeJob { file: String, problem: String },
    #[error("cannot build {what}: {problem}")]
    BadSpec { what: String, problem: String },
}

/// Renders the build Job and its source Secret for `spec` from `template`.
pub fn render(template: &BuildTemplate, spec: &BuildSpec) -> Result<BuildObjects, BuildJobError> {
    check_spec(spec)?;
    let name = job_name(&spec.repo, &spec.sha, &spec.branch, spec.attempt);
    let secret_name = super::builds::source_secret_name(&name);
    let labels = labels(spec, &name);

    let rendered = render_text(template, spec, &name, &secret_name)?;
    let mut job: Job =
        serde_yaml_ng::from_str(&rendered).map_err(|err| BuildJobError::InvalidJob {
            file: template.name.clone(),
            line: err.location().map_or(0, |at| at.line()),
            column: err.location().map_or(0, |at| at.column()),
            message: without_location(&err.to_string()),
        })?;
    enforce(&mut job, spec, &name, &labels, &template.name)?;

    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(secret_name),
            namespace: Some(spec.namespace.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_string()),
        string_data: Some(BTreeMap::from([(
            TOKEN_KEY.to_string(),
            spec.token.clone(),
        )])),
        ..Secret::default()
    };
    Ok(BuildObjects { job, secret })
}

fn check_spec(spec: &BuildSpec) -> Result<(), BuildJobError> {
    let bad = |what: &str, problem: String| BuildJobError::BadSpec {
        what: what.to_string(),
        problem,
    };
    if spec.sha.len() != 40 || !spec.sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(
            "the commit",
            format!("{:?} is not a 40-digit commit SHA", spec.sha),
        ));
    }
    crate::bump::image::validate_repository(&spec.image)
        .map_err(|problem| bad(&format!("image {:?}", spec.image), problem))?;
    for arg in &spec.build_args {
        if !crate::config::is_build_arg_name(&arg.key) {
            return Err(bad(
                "the build args",
                format!(
                    "{:?} is not a build arg name (letters, digits and `_`, not starting with a digit)",
                    arg.key
                ),
            ));
        }
    }
    Ok(())
}

/// The one tag a build pushes. The default branch's builds push the commit's full SHA, an
/// immutable name a bump can deploy; there is no moving tag for the default branch, because a
/// re-run of an older commit would move it backwards. Every other branch pushes its
/// [`branch_tag`], which is never SHA-shaped and never another branch's, so no branch can
/// overwrite a tag a deploy uses.
pub fn destination(image: &str, sha: &str, branch: &str, default_branch: &str) -> String {
    if branch == default_branch {
        format!("{image}:{sha}")
    } else {
        format!("{image}:{}", branch_tag(branch))
    }
}

fn labels(spec: &BuildSpec, name: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            "slipway".to_string(),
        ),
        ("slipway.dev/repo".to_string(), label_value(&spec.repo)),
        ("slipway.dev/sha".to_string(), label_value(&spec.sha)),
        (BUILD_LABEL.to_string(), name.to_string()),
    ]);
    if let Some(run) = spec.run_id {
        labels.insert(RUN_LABEL.to_string(), run.to_string());
    }
    labels
}

fn render_text(
    template: &BuildTemplate,
    spec: &BuildSpec,
    name: &str,
    secret_name: &str,
) -> Result<String, BuildJobError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Every printed value, `| safe` or not, is a JSON literal on one line.
    env.set_formatter(|out, _state, value| {
        let json = serde_json::to_string(value).map_err(|err| {
            minijinja::Error::new(minijinja::ErrorKind::BadSerialization, err.to_string())
        })?;
        out.write_str(&json).map_err(|err| {
            minijinja::Error::new(minijinja::ErrorKind::WriteFailure, err.to_string())
        })
    });
    // Kubernetes expands `$(VAR)` in command, args and env values; `$$` is a literal `$`.
    env.add_filter("arg", |text: String| text.replace('$', "$$"));
    env.add_filter("label", |text: String| label_value(&text));

    let template_error = |err: minijinja::Error| BuildJobError::Template {
        file: template.name.clone(),
        line: err.line().unwrap_or(0),
        message: err
            .detail()
            .map_or_else(|| err.kind().to_string(), str::to_string),
    };
    env.add_template(&template.name, &template.source)
        .map_err(template_error)?;
    let compiled = env.get_template(&template.name).map_err(template_error)?;

    let (dockerfile_dir, dockerfile_name) = match spec.dockerfile.rsplit_once('/') {
        Some((dir, file)) => (dir.to_string(), file.to_string()),
        None => (".".to_string(), spec.dockerfile.clone()),
    };
    let destination = destination(&spec.image, &spec.sha, &spec.branch, &spec.default_branch);
    let destinations = [destination.clone()];
    let context = BTreeMap::from([
        ("job_name", Value::from(name)),
        ("namespace", Value::from(spec.namespace.as_str())),
        ("secret_name", Value::from(secret_name)),
        ("token_key", Value::from(TOKEN_KEY)),
        ("repo", Value::from(spec.repo.as_str())),
        ("clone_url", Value::from(spec.clone_url.as_str())),
        ("sha", Value::from(spec.sha.as_str())),
        ("branch", Value::from(spec.branch.as_str())),
        (
            "commit_message",
            Value::from(
                spec.commit_message
                    .chars()
                    .take(MAX_COMMIT_MESSAGE)
                    .collect::<String>(),
            ),
        ),
        ("attempt", Value::from(spec.attempt)),
        ("image", Value::from(spec.image.as_str())),
        ("destination", Value::from(destination)),
        // A template written for several tags still gets exactly the one.
        ("destinations", Value::from_serialize(destinations)),
        ("image_tar", Value::from(IMAGE_TAR)),
        ("push_script", Value::from(PUSH_SCRIPT)),
        ("dockerfile", Value::from(spec.dockerfile.as_str())),
        ("dockerfile_dir", Value::from(dockerfile_dir)),
        ("dockerfile_name", Value::from(dockerfile_name)),
        ("context", Value::from(spec.context.as_str())),
        ("build_args", Value::from_serialize(&spec.build_args)),
        ("executor_image", Value::from(spec.executor_image.as_str())),
        (
            "registry_secret",
            Value::from(spec.registry_secret.as_str()),
        ),
        ("timeout_seconds", Value::from(spec.timeout.as_secs())),
        ("git_fetch_script", Value::from(GIT_FETCH_SCRIPT)),
    ]);
    compiled.render(context).map_err(template_error)
}

/// What slipway guarantees of every build Job, whatever the template says: its identity, its
/// labels, one try, the deadline, and bounded resources.
fn enforce(
    job: &mut Job,
    spec: &BuildSpec,
    name: &str,
    labels: &BTreeMap<String, String>,
    file: &str,
) -> Result<(), BuildJobError> {
    let unsafe_job = |problem: String| BuildJobError::UnsafeJob {
        file: file.to_string(),
        problem,
    };
    job.metadata.name = Some(name.to_string());
    job.metadata.namespace = Some(spec.namespace.clone());
    // The run label is slipway's alone: a template's would map events to another run.
    let job_labels = job.metadata.labels.get_or_insert_with(BTreeMap::new);
    job_labels.remove(RUN_LABEL);
    job_labels.extend(labels.clone());
    let job_spec = job
        .spec
        .as_mut()
        .ok_or_else(|| unsafe_job("without a spec".to_string()))?;
    job_spec.backoff_limit = Some(0);
    job_spec.active_deadline_seconds =
        Some(i64::try_from(spec.timeout.as_secs()).unwrap_or(i64::MAX));
    job_spec
        .ttl_seconds_after_finished
        .get_or_insert(DEFAULT_TTL_SECONDS);
    let pod_labels = job_spec
        .template
        .metadata
        .get_or_insert_with(ObjectMeta::default)
        .labels
        .get_or_insert_with(BTreeMap::new);
    pod_labels.remove(RUN_LABEL);
    pod_labels.extend(labels.clone());
    let pod = job_spec
        .template
        .spec
        .as_ref()
        .ok_or_else(|| unsafe_job("without a pod spec".to_string()))?;
    if pod.containers.is_empty() {
        return Err(unsafe_job("without containers".to_string()));
    }
    check_credential_fence(pod, spec).map_err(unsafe_job)?;
    let containers = pod.init_containers.iter().flatten().chain(&pod.containers);
    for container in containers {
        let limited = container
            .resources
            .as_ref()
            .is_some_and(|r| r.limits.as_ref().is_some_and(|l| !l.is_empty()));
        if !limited {
            return Err(unsafe_job(format!(
                "whose container {:?} has no resource limits",
                container.name
            )));
        }
    }
    Ok(())
}

/// The container that runs user code (the executor: it runs the Dockerfile's `RUN` steps) may
/// reach no registry credential: no volume of the registry Secret, no env from it, no
/// `DOCKER_CONFIG`, and no projected volume that could carry it. Whatever the template says.
fn check_credential_fence(
    pod: &k8s_openapi::api::core::v1::PodSpec,
    spec: &BuildSpec,
) -> Result<(), String> {
    let credential_volumes: Vec<&str> =
        pod.volumes
            .iter()
            .flatten()
            .filter(|volume| {
                let from_secret = volume.secret.as_ref().is_some_and(|s| {
                    s.secret_name.as_deref() == Some(spec.registry_secret.as_str())
                });
                let projected = volume.projected.as_ref().is_some_and(|p| {
                    p.sources.iter().flatten().any(|source| {
                        source
                            .secret
                            .as_ref()
                            .is_some_and(|s| s.name == spec.registry_secret)
                    })
                });
                from_secret || projected
            })
            .map(|volume| volume.name.as_str())
            .collect();
    let containers = pod.init_containers.iter().flatten().chain(&pod.containers);
    for container in containers.filter(|c| c.image.as_deref() == Some(spec.executor_image.as_str()))
    {
        let name = &container.name;
        if let Some(mount) = container
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| credential_volumes.contains(&m.name.as_str()))
        {
            return Err(format!(
                "whose container {name:?} runs the Dockerfile and mounts the registry credential (volume {:?})",
                mount.name
            ));
        }
        for env in container.env.iter().flatten() {
            let from_secret = env
                .value_from
                .as_ref()
                .and_then(|v| v.secret_key_ref.as_ref())
                .is_some_and(|r| r.name == spec.registry_secret);
            if from_secret || env.name == "DOCKER_CONFIG" {
                return Err(format!(
                    "whose container {name:?} runs the Dockerfile and gets the registry credential through env {:?}",
                    env.name
                ));
            }
        }
        let env_from = container.env_from.iter().flatten().any(|source| {
            source
                .secret_ref
                .as_ref()
                .is_some_and(|r| r.name == spec.registry_secret)
        });
        if env_from {
            return Err(format!(
                "whose container {name:?} runs the Dockerfile and gets the registry credential through envFrom"
            ));
        }
    }
    Ok(())
}

/// The parser's message without its own " at line L column C", which the error already leads with.
fn without_location(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default();
    match first.rfind(" at line ") {
        Some(at) => first[..at].to_string(),
        None => first.to_string(),
    }
}
