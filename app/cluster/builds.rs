//! The build Jobs in the cluster: launch (or adopt), observe, read the log's end, delete.
//!
//! Every call is safe to repeat: a Job's name is fixed by repo, SHA and attempt, so a launch
//! after a crash at any point finds what the last one made and finishes it.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use serde_json::json;
use tracing::{debug, info};

use super::build_job::{BuildObjects, TOKEN_KEY};
use super::error::ClusterError;
use super::pods::{log_container, newest_pod, reported_digest, source_fetched, ReportedDigest};

pub use super::job_state::{job_state, FailReason, JobState};

/// The label the Job controller (Kubernetes 1.27+) puts on every pod of a Job, with the Job's
/// uid: a pod of an earlier Job of the same name does not carry it.
const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";

/// The build Jobs of one namespace.
#[derive(Clone)]
pub struct BuildCluster {
    client: kube::Client,
    namespace: String,
}

/// A build Job that exists now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launched {
    pub job_name: String,
    pub uid: String,
    /// The Job was there already (a re-delivered push, or a launch that crashed): it was
    /// adopted, not created.
    pub adopted: bool,
}

impl BuildCluster {
    pub fn new(client: kube::Client, namespace: impl Into<String>) -> Self {
        BuildCluster {
            client,
            namespace: namespace.into(),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The client, for the watch of the same namespace.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn error(&self, err: kube::Error, action: String) -> ClusterError {
        ClusterError::from_kube(err, action, &self.namespace)
    }

    /// Creates the source Secret, then the Job, then makes the Job the Secret's owner so the
    /// token is collected with the Job. An existing Secret gets the new token; an existing Job
    /// is adopted. Exactly one Job, however often this runs.
    pub async fn launch(&self, mut objects: BuildObjects) -> Result<Launched, ClusterError> {
        let job_name = objects.job.metadata.name.clone().unwrap_or_default();
        let secret_name = objects.secret.metadata.name.clone().unwrap_or_default();
        let token = objects
            .secret
            .string_data
            .as_ref()
            .and_then(|data| data.get(TOKEN_KEY))
            .cloned()
            .unwrap_or_default();
        // An API message about the Secret could quote what was sent; the token stays out.
        let secret_error =
            |err: kube::Error, action: String| self.error(err, action).redacted(&[token.as_str()]);
        let secrets = self.secrets();

        match secrets
            .create(&PostParams::default(), &objects.secret)
            .await
        {
            Ok(_) => debug!(secret = %secret_name, "created the build's source Secret"),
            Err(err) if ClusterError::is_already_exists(&err) => {
                // Left by a launch that crashed, or the Job's own: its token may have expired.
                let refresh = json!({"stringData": objects.secret.string_data});
                secrets
                    .patch(
                        &secret_name,
                        &PatchParams::default(),
                        &Patch::Merge(&refresh),
                    )
                    .await
                    .map_err(|err| {
                        secret_error(err, format!("refreshing the token in Secret {secret_name}"))
                    })?;
                debug!(secret = %secret_name, "refreshed the token of the existing source Secret");
            }
            Err(err) => {
                return Err(secret_error(err, format!("creating Secret {secret_name}")));
            }
        }

        let (job, adopted) = self.create_or_adopt(&objects.job, &job_name).await?;
        let uid = job.metadata.uid.clone().unwrap_or_default();

        objects.own_secret(&uid);
        let owner =
            json!({"metadata": {"ownerReferences": objects.secret.metadata.owner_references}});
        match secrets
            .patch(&secret_name, &PatchParams::default(), &Patch::Merge(&owner))
            .await
        {
            Ok(_) => {}
            Err(err) if ClusterError::is_not_found(&err) => {
                // Collected with an earlier Job of this name in the meantime: made again, owned.
                secrets
                    .create(&PostParams::default(), &objects.secret)
                    .await
                    .map_err(|err| secret_error(err, format!("creating Secret {secret_name}")))?;
            }
            Err(err) => {
                return Err(secret_error(
                    err,
                    format!("making Job {job_name} the owner of Secret {secret_name}"),
                ))
            }
        }
        info!(job = %job_name, %uid, adopted, namespace = %self.namespace, "build Job launched");
        Ok(Launched {
            job_name,
            uid,
            adopted,
        })
    }

    async fn create_or_adopt(&self, job: &Job, name: &str) -> Result<(Job, bool), ClusterError> {
        let jobs = self.jobs();
        // Twice at most: a Job deleted between the refused create and the read is made again.
        for _ in 0..2 {
            match jobs.create(&PostParams::default(), job).await {
                Ok(created) => return Ok((created, false)),
                Err(err) if ClusterError::is_already_exists(&err) => {}
                Err(err) => return Err(self.error(err, format!("creating Job {name}"))),
            }
            match jobs.get_opt(name).await {
                Ok(Some(existing)) => return Ok((existing, true)),
                Ok(None) => continue,
                Err(err) => return Err(self.error(err, format!("reading Job {name}"))),
            }
        }
        Err(ClusterError::Api {
            code: 409,
            reason: "Conflict".to_string(),
            message: format!("Job {name} was deleted each time it was found to exist"),
            action: format!("creating Job {name}"),
        })
    }

    /// What the Job and its pods say now.
    pub async fn job_state(&self, job_name: &str) -> Result<JobState, ClusterError> {
        let Some(job) = self.get_job(job_name).await? else {
            return Ok(JobState::Missing);
        };
        let pods = self.pods_of(&job).await?;
        Ok(job_state(&job, &pods))
    }

    /// The last `lines` lines of the build's log, as the container printed them: pass it
    /// through [`redact_log`](super::build_log::redact_log) before showing it. The newest pod's
    /// main container, or its source fetch when that failed or still runs; empty while nothing
    /// has started; `None` when the Job has no pod (not started, or its pods are gone).
    pub async fn log_tail(
        &self,
        job_name: &str,
        lines: i64,
    ) -> Result<Option<String>, ClusterError> {
        let Some(job) = self.get_job(job_name).await? else {
            return Ok(None);
        };
        let pods = self.pods_of(&job).await?;
        let Some(pod) = newest_pod(&pods) else {
            return Ok(None);
        };
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let container = log_container(pod);
        let params = LogParams {
            container: container.clone(),
            tail_lines: Some(lines.max(0)),
            ..LogParams::default()
        };
        match self.pods().logs(&pod_name, &params).await {
            Ok(log) => Ok(Some(log)),
            Err(err) if ClusterError::is_not_found(&err) => Ok(None),
            // The kubelet's answer for a container that has not started (or a pod without a
            // node yet): no log so far.
            Err(kube::Error::Api(status)) if status.code == 400 => {
                debug!(pod = %pod_name, message = %status.message, "no log yet");
                Ok(Some(String::new()))
            }
            Err(err) => Err(self.error(
                err,
                format!(
                    "reading the log of container {} of pod {pod_name}",
                    container.unwrap_or_default()
                ),
            )),
        }
    }

    /// Deletes the Job in the background: its pods and its Secret are collected with it.
    /// `false` when it was already gone.
    pub async fn delete(&self, job_name: &str) -> Result<bool, ClusterError> {
        match self
            .jobs()
            .delete(job_name, &DeleteParams::background())
            .await
        {
            Ok(_) => {
                info!(job = %job_name, namespace = %self.namespace, "build Job deleted");
                Ok(true)
            }
            Err(err) if ClusterError::is_not_found(&err) => Ok(false),
            Err(err) => Err(self.error(err, format!("deleting Job {job_name}"))),
        }
    }

    /// What the newest pod of the Job reported as the pushed image's digest; `None` when the
    /// Job or its pods are gone.
    pub async fn pushed_digest(
        &self,
        job_name: &str,
    ) -> Result<Option<ReportedDigest>, ClusterError> {
        let Some(job) = self.get_job(job_name).await? else {
            return Ok(None);
        };
        let pods = self.pods_of(&job).await?;
        Ok(newest_pod(&pods).map(reported_digest))
    }

    /// Whether the Job's source step is over in every pod of it (so the token it fetched with
    /// can be revoked). `false` while no pod exists.
    pub async fn source_fetched(&self, job_name: &str) -> Result<bool, ClusterError> {
        let Some(job) = self.get_job(job_name).await? else {
            return Ok(false);
        };
        let pods = self.pods_of(&job).await?;
        let secret = source_secret_name(job_name);
        Ok(!pods.is_empty() && pods.iter().all(|pod| source_fetched(pod, &secret)))
    }

    /// Deletes the build's source Secret (its token is revoked or about to be); `false` when
    /// it was already gone.
    pub async fn delete_source_secret(&self, job_name: &str) -> Result<bool, ClusterError> {
        let name = source_secret_name(job_name);
        match self.secrets().delete(&name, &DeleteParams::default()).await {
            Ok(_) => {
                debug!(secret = %name, "deleted the build's source Secret");
                Ok(true)
            }
            Err(err) if ClusterError::is_not_found(&err) => Ok(false),
            Err(err) => Err(self.error(err, format!("deleting Secret {name}"))),
        }
    }

    /// The values of the registry Secret worth redacting from a build log (see
    /// [`registry_secret_values`](super::build_log::registry_secret_values)); none when the
    /// Secret does not exist.
    pub async fn registry_secret_values(&self, name: &str) -> Result<Vec<String>, ClusterError> {
        let secret = self
            .secrets()
            .get_opt(name)
            .await
            .map_err(|err| self.error(err, format!("reading Secret {name}")))?;
        let data: Vec<(String, Vec<u8>)> = secret
            .and_then(|secret| secret.data)
            .map(|data| data.into_iter().map(|(k, v)| (k, v.0)).collect())
            .unwrap_or_default();
        Ok(super::build_log::registry_secret_values(&data))
    }

    /// Whether slipway may work in the namespace: one list of Jobs, for `/readyz`.
    pub async fn check_access(&self) -> Result<(), ClusterError> {
        self.jobs()
            .list(&ListParams::default().limit(1))
            .await
            .map(|_| ())
            .map_err(|err| self.error(err, "listing Jobs".to_string()))
    }

    /// The token the build's source Secret holds (`None` once the Secret is gone), so its log
    /// can be redacted of exactly that token.
    pub async fn source_token(&self, job_name: &str) -> Result<Option<String>, ClusterError> {
        let name = source_secret_name(job_name);
        let secret = self
            .secrets()
            .get_opt(&name)
            .await
            .map_err(|err| self.error(err, format!("reading Secret {name}")))?;
        Ok(secret.and_then(|secret| {
            let key = super::build_job::TOKEN_KEY;
            secret
                .data
                .as_ref()
                .and_then(|data| data.get(key))
                .and_then(|bytes| String::from_utf8(bytes.0.clone()).ok())
                .or_else(|| {
                    secret
                        .string_data
                        .as_ref()
                        .and_then(|data| data.get(key).cloned())
                })
        }))
    }

    async fn get_job(&self, name: &str) -> Result<Option<Job>, ClusterError> {
        self.jobs()
            .get_opt(name)
            .await
            .map_err(|err| self.error(err, format!("reading Job {name}")))
    }

    async fn pods_of(&self, job: &Job) -> Result<Vec<Pod>, ClusterError> {
        let name = job.metadata.name.clone().unwrap_or_default();
        let selector = match job.metadata.uid.as_deref() {
            Some(uid) => format!("{CONTROLLER_UID_LABEL}={uid}"),
            None => format!("batch.kubernetes.io/job-name={name}"),
        };
        self.pods()
            .list(&ListParams::default().labels(&selector))
            .await
            .map(|list| list.items)
            .map_err(|err| self.error(err, format!("listing the pods of Job {name}")))
    }
}

/// The name of a build's source Secret: the Job's, with `-source`.
pub fn source_secret_name(job_name: &str) -> String {
    format!("{job_name}-source")
}
