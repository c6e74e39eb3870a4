//! A fake Kubernetes API server: an in-process axum server on loopback that the real
//! `kube::Client` talks to over HTTP.
//!
//! It serves discovery, and for namespaces, pods, secrets, configmaps, services, service
//! accounts, persistent volume claims, Jobs, CronJobs, Deployments, StatefulSets, DaemonSets,
//! Roles, RoleBindings, ClusterRoles, ClusterRoleBindings, Ingresses and
//! CustomResourceDefinitions (whose served versions then appear in discovery and are stored
//! like any type, until the CRD is deleted with its objects): create, get, list with label and
//! field selectors, replace with optimistic concurrency, merge and JSON patches, server-side
//! apply, dry runs, delete and deletecollection with garbage collection of owned objects, the
//! `status` subresource, pod logs (tail, follow) and watches (resume from a `resourceVersion`,
//! bookmarks, `Expired` once the history is gone). Failures are `Status` objects with the
//! apiserver's codes, reasons and messages. A test sets the world up through [`FakeKube`]:
//! Job and Pod status, workload rollouts, log lines, RBAC refusals and injected server errors,
//! and reads back what was created and how often each verb was used (or waits until a verb
//! was used, [`FakeKube::await_requests`]).
//!
//! Server-side apply (`PATCH` with `application/apply-patch+yaml`) needs `fieldManager` (422
//! otherwise, as the apiserver validates `PatchOptions`), creates the object when absent (201)
//! and keeps `metadata.managedFields` (`FieldsV1`) per manager and operation: see `managed` for
//! which lists are keyed (containers, initContainers, ephemeralContainers, env and volumes, by
//! `name`; every other list is atomic), conflicts (`409 Conflict`, one `FieldManagerConflict`
//! cause per field, unless `force=true`) and the removal of fields an applier stops sending.
//! Creates, updates and patches are recorded as `Update` by their `fieldManager`, or by the
//! user agent's prefix as the apiserver defaults it; writes to `status` are not tracked, and
//! `managedFields` sent in a body are ignored (never reset). A write that changes nothing keeps
//! `resourceVersion` and `generation` and sends no watch event; `generation` moves when
//! anything but metadata and status changes. `dryRun=All` goes through every check and answers
//! as if done, storing nothing and telling no watch. Requests are counted per verb and
//! resource; an apply counts as `apply`, a dry run as `dry-run <verb>`.
//!
//! There is no Job controller, no workload controller and no kubelet: a test plays them with
//! [`FakeKube::start_job_pod`], [`FakeKube::set_pod_phase`], [`FakeKube::finish_job`],
//! [`FakeKube::roll_out`], [`FakeKube::fail_rollout`] or [`FakeKube::auto_roll_out`], which
//! write what Kubernetes 1.32 writes (see `jobs` and `rollout`). Creating a Job applies the
//! apiserver's defaults and generated selector; a Secret's `stringData` is stored
//! base64-encoded in `data`, as the apiserver does.

#![allow(dead_code)]

mod discovery;
mod jobs;
mod managed;
mod patch;
mod resources;
mod rollout;
mod selectors;
mod server;
mod status;
mod store;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use k8s_openapi::api::batch::v1::JobStatus;
use k8s_openapi::api::core::v1::PodStatus;
use serde_json::{json, Value};

#[allow(unused_imports)]
pub use jobs::JobOutcome;
#[allow(unused_imports)]
pub use resources::Propagation;
#[allow(unused_imports)]
pub use status::{ApiError, SERVICE_ACCOUNT};

use resources::ResourceType;
use store::{Part, Scope, Store};

/// Everything the server knows, behind one lock that no request holds across an await.
pub struct FakeState {
    store: Store,
    /// Container log lines by (namespace, pod, container).
    logs: HashMap<(String, String, String), Vec<String>>,
    /// Termination-message files by (namespace, pod, container).
    termination_logs: jobs::TerminationLogs,
    /// (verb, resource) pairs answered with 403, as when RBAC lacks a rule.
    forbidden: Vec<(String, String)>,
    /// Server errors to answer once each, by (verb, resource).
    failures: Vec<(String, String, u16)>,
    /// How many requests each (verb, resource) received, refused ones included.
    requests: BTreeMap<(String, String), usize>,
    bookmark_interval: Duration,
    /// Whether every write of a Deployment, StatefulSet or DaemonSet completes its rollout.
    auto_roll_out: bool,
}

/// The nodes a DaemonSet runs on.
const NODES: i64 = 1;

impl FakeState {
    /// What the controllers do after a write the API answered with `object`: with automatic
    /// rollouts, a workload's rollout completes at once. The answer stays what the write
    /// returned, as the controllers act after it.
    fn after_write(&mut self, rt: &'static ResourceType, object: Value, skip: bool) -> Value {
        if self.auto_roll_out && !skip && resources::is_rolled_out(rt) {
            let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            if let Err(e) = rollout::complete(&mut self.store, rt, namespace, name, NODES) {
                tracing::warn!(
                    "the fake could not roll out {namespace}/{name}: {}",
                    e.message
                );
            }
        }
        object
    }

    /// 403 when RBAC lacks `verb` on `resource`.
    fn refusal(
        &self,
        verb: &str,
        resource: &str,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: Option<&str>,
        subresource: Option<&str>,
    ) -> Option<ApiError> {
        let matches = |v: &str, r: &str| (v == verb || v == "*") && (r == resource || r == "*");
        self.forbidden
            .iter()
            .any(|(v, r)| matches(v, r))
            .then(|| ApiError::forbidden(rt, verb, subresource, namespace, name))
    }

    /// Drops the logs of pods that are gone, so a pod made again under the same name starts
    /// with an empty log.
    fn forget_deleted_pods(&mut self) {
        let pods = resources::find("", "v1", "pods").expect("pods are served");
        let store = &self.store;
        self.logs
            .retain(|(namespace, pod, _), _| store.get(pods, Some(namespace), pod).is_ok());
    }
}

#[derive(Clone)]
pub struct Shared {
    state: Arc<Mutex<FakeState>>,
    addr: Arc<Mutex<Option<SocketAddr>>>,
    /// Ends every open watch stream when sent to, as an apiserver restart does.
    severed: tokio::sync::broadcast::Sender<()>,
    /// Told of every request, for tests that wait until slipway asked for something.
    requested: Arc<tokio::sync::Notify>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        // A test that panicked while holding the lock leaves consistent data: go on with it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.lock())
    }

    fn address(&self) -> String {
        self.addr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|a| a.to_string())
            .unwrap_or_default()
    }

    /// Counts the request under `counted` (`apply`, `dry-run create`…), then refuses it if
    /// RBAC forbids `verb` (as RBAC names it: an apply is a `patch`) or a failure is due.
    #[allow(clippy::too_many_arguments)]
    fn admit(
        &self,
        verb: &str,
        counted: &str,
        resource: &str,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: Option<&str>,
        subresource: Option<&str>,
    ) -> Option<ApiError> {
        let answer = self.with(|state| {
            *state
                .requests
                .entry((counted.to_string(), resource.to_string()))
                .or_default() += 1;
            if let Some(refusal) = state.refusal(verb, resource, rt, namespace, name, subresource) {
                return Some(refusal);
            }
            let matches = |v: &str, r: &str| {
                (v == verb || v == counted || v == "*") && (r == resource || r == "*")
            };
            let due = state.failures.iter().position(|(v, r, _)| matches(v, r))?;
            let (_, _, code) = state.failures.remove(due);
            Some(ApiError::server_error(code))
        });
        self.requested.notify_waiters();
        answer
    }
}

/// Settings for a fake server, before it starts.
pub struct FakeKubeBuilder {
    namespaces: Vec<String>,
    history_limit: usize,
    bookmark_interval: Duration,
}

impl FakeKubeBuilder {
    /// A namespace that exists from the start (`default` always does).
    pub fn namespace(mut self, name: &str) -> Self {
        self.namespaces.push(name.to_string());
        self
    }

    /// How many changes the server remembers for watches to resume from; a watch from an
    /// older `resourceVersion` gets `410 Expired`.
    pub fn history_limit(mut self, changes: usize) -> Self {
        self.history_limit = changes;
        self
    }

    /// How often a watch that asked for bookmarks gets one (the apiserver: about a minute).
    pub fn bookmark_interval(mut self, every: Duration) -> Self {
        self.bookmark_interval = every;
        self
    }

    pub async fn start(self) -> FakeKube {
        let mut store = Store::new(self.history_limit);
        let namespaces = resources::find("", "v1", "namespaces").expect("namespaces are served");
        for name in &self.namespaces {
            store
                .create(namespaces, None, json!({"metadata": {"name": name}}))
                .unwrap_or_else(|e| panic!("namespace {name}: {}", e.message));
        }
        let shared = Shared {
            state: Arc::new(Mutex::new(FakeState {
                store,
                logs: HashMap::new(),
                termination_logs: HashMap::new(),
                forbidden: Vec::new(),
                failures: Vec::new(),
                requests: BTreeMap::new(),
                bookmark_interval: self.bookmark_interval,
                auto_roll_out: false,
            })),
            addr: Arc::new(Mutex::new(None)),
            severed: tokio::sync::broadcast::channel(1).0,
            requested: Arc::new(tokio::sync::Notify::new()),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Kubernetes API server");
        let addr = listener.local_addr().expect("the fake's address");
        *shared.addr.lock().unwrap_or_else(|p| p.into_inner()) = Some(addr);
        let serving = Arc::new(tokio::sync::Mutex::new(Some(serve(listener, &shared))));
        slipway::install_crypto_provider();
        let url = format!("http://{addr}").parse().expect("a loopback URL");
        let client = kube::Client::try_from(kube::Config::new(url)).expect("a client for the fake");
        FakeKube {
            addr,
            shared,
            client,
            serving,
        }
    }
}

/// The server task of a listener, and what stops it.
struct Serving {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn serve(listener: tokio::net::TcpListener, shared: &Shared) -> Serving {
    let app = Router::new()
        .fallback(server::handle)
        .with_state(shared.clone());
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await;
    });
    Serving { stop, task }
}

/// A running fake Kubernetes API server and a real client for it.
#[derive(Clone)]
pub struct FakeKube {
    addr: SocketAddr,
    shared: Shared,
    client: kube::Client,
    /// The server task while the server listens; `None` while it is stopped.
    serving: Arc<tokio::sync::Mutex<Option<Serving>>>,
}

impl FakeKube {
    pub fn builder() -> FakeKubeBuilder {
        FakeKubeBuilder {
            namespaces: vec!["default".to_string()],
            history_limit: 1000,
            bookmark_interval: Duration::from_secs(60),
        }
    }

    /// A server with the `default` namespace and the apiserver's defaults.
    pub async fn start() -> FakeKube {
        FakeKube::builder().start().await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig whose one context, `context` (also its current context), reaches this
    /// server with a bearer token, as a kubeconfig Secret of a cluster would.
    pub fn kubeconfig(&self, context: &str) -> String {
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: {context}-cluster
  cluster:
    server: {url}
users:
- name: {context}-user
  user:
    token: test-token-{context}
contexts:
- name: {context}
  context:
    cluster: {context}-cluster
    user: {context}-user
current-context: {context}
",
            url = self.url()
        )
    }

    /// [`Self::kubeconfig`] whose user authenticates with the exec plugin `command` (an
    /// absolute path), as cloud providers' kubeconfigs do.
    pub fn kubeconfig_with_exec(&self, context: &str, command: &str) -> String {
        self.kubeconfig(context).replace(
            &format!("    token: test-token-{context}\n"),
            &format!(
                "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {command}\n      interactiveMode: Never\n"
            ),
        )
    }

    /// The API server goes down, as a control plane that stops: open watches end, open
    /// connections close, and new connections are refused. What was stored stays.
    pub async fn stop(&self) {
        let Some(serving) = self.serving.lock().await.take() else {
            return;
        };
        let _ = self.shared.severed.send(());
        let _ = serving.stop.send(true);
        let _ = serving.task.await;
    }

    /// The API server comes back at the same address with what it stored.
    pub async fn restart(&self) {
        let mut serving = self.serving.lock().await;
        if serving.is_some() {
            return;
        }
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("bind the fake Kubernetes API server again at its address");
        *serving = Some(serve(listener, &self.shared));
    }

    /// A `kube::Client` for this server, with `default` as its namespace.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// A built-in type by its plural (`deployments`) or its kind (`Deployment`).
    fn resource(plural: &str) -> &'static ResourceType {
        resources::RESOURCES
            .iter()
            .find(|rt| rt.plural == plural || rt.kind == plural)
            .unwrap_or_else(|| panic!("the fake does not serve {plural}"))
    }

    /// As the workload's controller: the rollout of a Deployment, StatefulSet or DaemonSet
    /// (`kind` is the kind or the resource) is complete — `observedGeneration` is the
    /// generation, every replica (`spec.replicas`, default 1) is updated, ready and available,
    /// a StatefulSet's current revision is its update revision, a DaemonSet runs on every node
    /// (one). A Deployment gets the `deployment.kubernetes.io/revision` annotation.
    pub fn roll_out(&self, kind: &str, namespace: &str, name: &str) {
        let rt = Self::resource(kind);
        assert!(resources::is_rolled_out(rt), "{kind} is not rolled out");
        self.shared
            .with(|state| rollout::complete(&mut state.store, rt, namespace, name, NODES))
            .unwrap_or_else(|e| panic!("roll out {kind} {namespace}/{name}: {}", e.message));
    }

    /// From now on every write (create, update, patch, apply; not a dry run) of a Deployment,
    /// StatefulSet or DaemonSet completes its rollout at once, as [`FakeKube::roll_out`].
    pub fn auto_roll_out(&self, on: bool) {
        self.shared.with(|state| state.auto_roll_out = on);
    }

    /// As the Deployment controller when the rollout exceeds `progressDeadlineSeconds`:
    /// `Progressing=False` with `reason` (`ProgressDeadlineExceeded`), no replica available.
    pub fn fail_rollout(&self, kind: &str, namespace: &str, name: &str, reason: &str) {
        let rt = Self::resource(kind);
        assert_eq!(
            rt.plural, "deployments",
            "only Deployments have a progress deadline"
        );
        self.shared
            .with(|state| rollout::fail(&mut state.store, rt, namespace, name, reason))
            .unwrap_or_else(|e| panic!("fail the rollout of {namespace}/{name}: {}", e.message));
    }

    /// One stored object, if it exists (`resource` is the plural or the kind of a built-in
    /// type; `namespace` is ignored for cluster-scoped ones).
    pub fn object(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        let rt = Self::resource(resource);
        let namespace = rt.namespaced.then_some(namespace);
        self.shared
            .with(|state| state.store.get(rt, namespace, name).ok())
    }

    /// Writes `object` as a client that is not slipway would (`kubectl create`, `kubectl
    /// edit`): an `Update` by `manager`, creating it when absent.
    pub fn write_as(&self, manager: &str, object: Value) {
        let rt = resources::by_kind(
            object["apiVersion"].as_str().unwrap_or_default(),
            object["kind"].as_str().unwrap_or_default(),
        )
        .unwrap_or_else(|| panic!("the fake does not serve {object}"));
        let namespace = object["metadata"]["namespace"].as_str().map(str::to_string);
        let namespace = rt
            .namespaced
            .then_some(namespace.as_deref().unwrap_or("default"));
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let write = store::Write::by(manager, false);
        self.shared
            .with(|state| {
                let written = match state.store.get(rt, namespace, &name) {
                    Ok(_) => state.store.patch_with(
                        rt,
                        namespace,
                        &name,
                        store::PatchKind::Merge,
                        &object,
                        Part::Object,
                        &write,
                    ),
                    Err(_) => state
                        .store
                        .create_with(rt, namespace, object.clone(), &write),
                }?;
                Ok::<_, ApiError>(state.after_write(rt, written, false))
            })
            .unwrap_or_else(|e| panic!("write {name} as {manager}: {}", e.message));
    }

    /// Writes an object's status as its controller (or the kubelet) would: the change reaches
    /// watches as MODIFIED with a new `resourceVersion`.
    pub fn set_status(&self, resource: &str, namespace: &str, name: &str, status: Value) {
        let rt = Self::resource(resource);
        self.shared
            .with(|state| {
                state.store.replace(
                    rt,
                    Some(namespace),
                    name,
                    json!({ "status": status }),
                    Part::Status,
                )
            })
            .unwrap_or_else(|e| {
                panic!(
                    "set the status of {resource} {namespace}/{name}: {}",
                    e.message
                )
            });
    }

    pub fn set_job_status(&self, namespace: &str, name: &str, status: JobStatus) {
        let status = serde_json::to_value(status).expect("a JobStatus serialises");
        self.set_status("jobs", namespace, name, status);
    }

    pub fn set_pod_status(&self, namespace: &str, name: &str, status: PodStatus) {
        let status = serde_json::to_value(status).expect("a PodStatus serialises");
        self.set_status("pods", namespace, name, status);
    }

    /// Adds lines to the log of a pod's first container, as it prints them.
    pub fn append_pod_log(&self, namespace: &str, pod: &str, lines: &[&str]) {
        let pods = Self::resource("pods");
        let container = self.shared.with(|state| {
            state
                .store
                .get(pods, Some(namespace), pod)
                .map(|p| {
                    p["spec"]["containers"][0]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .unwrap_or_else(|e| panic!("the log of pod {namespace}/{pod}: {}", e.message))
        });
        self.append_container_log(namespace, pod, &container, lines);
    }

    /// Adds lines to the log of one container of a pod (an init container too).
    pub fn append_container_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        lines: &[&str],
    ) {
        self.shared.with(|state| {
            state
                .logs
                .entry((
                    namespace.to_string(),
                    pod.to_string(),
                    container.to_string(),
                ))
                .or_default()
                .extend(lines.iter().map(|l| l.to_string()))
        });
    }

    /// As a container of a pod: writes `text` to its termination-message file. When the
    /// container terminates, the kubelet reports it as `state.terminated.message`.
    pub fn write_termination_log(&self, namespace: &str, pod: &str, container: &str, text: &str) {
        self.shared.with(|state| {
            state.termination_logs.insert(
                (
                    namespace.to_string(),
                    pod.to_string(),
                    container.to_string(),
                ),
                text.to_string(),
            )
        });
    }

    /// As the Job controller: creates the Job's pod `<job>-<5 random>` from its template (with
    /// the controller's labels and an owner reference to the Job), phase `Pending`, and sets
    /// the Job's `startTime` and `active: 1`. Returns the pod's name.
    pub fn start_job_pod(&self, namespace: &str, job: &str) -> String {
        self.shared
            .with(|state| jobs::start_pod(&mut state.store, namespace, job))
            .unwrap_or_else(|e| panic!("start a pod of Job {namespace}/{job}: {}", e.message))
    }

    /// As the kubelet: the pod's phase (`Pending`: init containers running, `Running`,
    /// `Succeeded`, `Failed`: main container exited 1) with its container statuses; the Job
    /// controller's `active`/`ready` counts follow.
    pub fn set_pod_phase(&self, namespace: &str, pod: &str, phase: &str) {
        self.shared
            .with(|state| {
                jobs::set_pod_phase(
                    &mut state.store,
                    &state.termination_logs,
                    namespace,
                    pod,
                    phase,
                    None,
                )
            })
            .unwrap_or_else(|e| panic!("set the phase of pod {namespace}/{pod}: {}", e.message));
    }

    /// As the kubelet: the pod's first init container exited 128, the pod `Failed`.
    pub fn fail_init_container(&self, namespace: &str, pod: &str) {
        self.shared
            .with(|state| {
                jobs::set_pod_phase(
                    &mut state.store,
                    &state.termination_logs,
                    namespace,
                    pod,
                    "Failed",
                    Some((0, 128)),
                )
            })
            .unwrap_or_else(|e| panic!("fail pod {namespace}/{pod}: {}", e.message));
    }

    /// As the kubelet: the pod's init container `container` exited 1 (those before it
    /// completed, those after it never started), the pod `Failed`.
    pub fn fail_init_step(&self, namespace: &str, pod: &str, container: &str) {
        self.shared
            .with(|state| {
                let pods = Self::resource("pods");
                let object = state.store.get(pods, Some(namespace), pod)?;
                let at = object["spec"]["initContainers"]
                    .as_array()
                    .and_then(|inits| inits.iter().position(|c| c["name"] == container))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "pod {pod} has no init container {container}"
                        ))
                    })?;
                jobs::set_pod_phase(
                    &mut state.store,
                    &state.termination_logs,
                    namespace,
                    pod,
                    "Failed",
                    Some((at, 1)),
                )
            })
            .unwrap_or_else(|e| panic!("fail {container} of pod {namespace}/{pod}: {}", e.message));
    }

    /// As the Job controller: ends the Job with `outcome` — its active pods finish accordingly
    /// (or are deleted at a deadline) and the Job gets the conditions, counts and times
    /// Kubernetes 1.32 writes.
    pub fn finish_job(&self, namespace: &str, job: &str, outcome: JobOutcome) {
        self.shared
            .with(|state| {
                let done = jobs::finish(
                    &mut state.store,
                    &state.termination_logs,
                    namespace,
                    job,
                    outcome,
                );
                state.forget_deleted_pods();
                done
            })
            .unwrap_or_else(|e| panic!("finish Job {namespace}/{job}: {}", e.message));
    }

    /// Ends every open watch stream without a last event, as an apiserver restart or a
    /// dropped connection does; clients watch again from the version they hold.
    pub fn end_watches(&self) {
        let _ = self.shared.severed.send(());
    }

    /// The stored objects of a resource (`"jobs"`, `"secrets"`…) in a namespace, by name
    /// (every one of a cluster-scoped resource).
    pub fn objects(&self, resource: &str, namespace: &str) -> Vec<Value> {
        let rt = Self::resource(resource);
        let scope = Scope {
            namespace: rt.namespaced.then(|| namespace.to_string()),
            ..Scope::default()
        };
        self.shared.with(|state| state.store.list(rt, &scope))
    }

    /// The names of the stored objects of a resource in a namespace.
    pub fn names(&self, resource: &str, namespace: &str) -> Vec<String> {
        self.objects(resource, namespace)
            .iter()
            .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_string))
            .collect()
    }

    /// The cluster's current `resourceVersion`.
    pub fn resource_version(&self) -> u64 {
        self.shared.with(|state| state.store.revision())
    }

    /// Answers `verb` (`create`, `get`, `list`, `watch`, `update`, `patch`, `delete`, or `*`) on
    /// `resource` (`jobs`, `pods/log`, or `*`) with 403 Forbidden from now on. RBAC knows a
    /// server-side apply as `patch` (and `create` when the object is absent).
    pub fn forbid(&self, verb: &str, resource: &str) {
        self.shared.with(|state| {
            state
                .forbidden
                .push((verb.to_string(), resource.to_string()))
        });
    }

    /// Lifts a [`FakeKube::forbid`]: the rule was granted.
    pub fn allow(&self, verb: &str, resource: &str) {
        self.shared.with(|state| {
            state
                .forbidden
                .retain(|(v, r)| (v.as_str(), r.as_str()) != (verb, resource))
        });
    }

    /// Answers the next `verb` (as RBAC or [`FakeKube::requests`] names it) on `resource` with
    /// a server error (`500`, `503`, `504`), once.
    pub fn fail_once(&self, verb: &str, resource: &str, code: u16) {
        self.shared.with(|state| {
            state
                .failures
                .push((verb.to_string(), resource.to_string(), code))
        });
    }

    /// Waits until `verb` on `resource` (named as [`FakeKube::requests`] names them) has been
    /// asked for at least `count` times in all; panics after 30 seconds.
    pub async fn await_requests(&self, verb: &str, resource: &str, count: usize) {
        let wait = async {
            loop {
                let told = self.shared.requested.notified();
                tokio::pin!(told);
                told.as_mut().enable();
                if self.requests(verb, resource) >= count {
                    return;
                }
                told.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .unwrap_or_else(|_| panic!("{verb} of {resource} never came {count} times"));
    }

    /// How many requests `verb` on `resource` received so far. A server-side apply counts as
    /// `apply` (not `patch`); a dry run as `dry-run <verb>` (`dry-run apply`, `dry-run create`,
    /// `dry-run delete`…), never as the verb itself.
    pub fn requests(&self, verb: &str, resource: &str) -> usize {
        self.shared.with(|state| {
            state
                .requests
                .get(&(verb.to_string(), resource.to_string()))
                .copied()
                .unwrap_or(0)
        })
    }
}
