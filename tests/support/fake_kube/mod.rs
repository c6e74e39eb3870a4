//! A fake Kubernetes API server: an in-process axum server on loopback that the real
//! `kube::Client` talks to over HTTP.
//!
//! It serves discovery, and for namespaces, pods, secrets, configmaps, services, Jobs and
//! Deployments: create, get, list with label and field selectors, replace with optimistic
//! concurrency, merge and JSON patches, delete and deletecollection with garbage collection of
//! owned objects, the `status` subresource, pod logs (tail, follow) and watches (resume from a
//! `resourceVersion`, bookmarks, `Expired` once the history is gone). Failures are `Status`
//! objects with the apiserver's codes, reasons and messages. A test sets the world up through
//! [`FakeKube`]: Job and Pod status, log lines, RBAC refusals and injected server errors, and
//! reads back what was created and how often each verb was used.
//!
//! There is no Job controller and no kubelet: a test plays them with [`FakeKube::start_job_pod`],
//! [`FakeKube::set_pod_phase`] and [`FakeKube::finish_job`], which write what Kubernetes 1.32
//! writes (see `jobs`). Creating a Job applies the apiserver's defaults and generated selector;
//! a Secret's `stringData` is stored base64-encoded in `data`, as the apiserver does.
//!
//! Not served yet: server-side apply (`application/apply-patch+yaml` answers 415) and dry
//! runs (refused with 400 rather than written); both belong in `store`, whose single commit
//! point is where `managedFields` go.

#![allow(dead_code)]

mod discovery;
mod jobs;
mod patch;
mod resources;
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
    /// (verb, resource) pairs answered with 403, as when RBAC lacks a rule.
    forbidden: Vec<(String, String)>,
    /// Server errors to answer once each, by (verb, resource).
    failures: Vec<(String, String, u16)>,
    /// How many requests each (verb, resource) received, refused ones included.
    requests: BTreeMap<(String, String), usize>,
    bookmark_interval: Duration,
}

impl FakeState {
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

    /// Counts the request, then refuses it if RBAC forbids it or a failure is due.
    fn admit(
        &self,
        verb: &str,
        resource: &str,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: Option<&str>,
        subresource: Option<&str>,
    ) -> Option<ApiError> {
        self.with(|state| {
            *state
                .requests
                .entry((verb.to_string(), resource.to_string()))
                .or_default() += 1;
            let matches = |v: &str, r: &str| (v == verb || v == "*") && (r == resource || r == "*");
            if state.forbidden.iter().any(|(v, r)| matches(v, r)) {
                return Some(ApiError::forbidden(rt, verb, subresource, namespace, name));
            }
            let due = state.failures.iter().position(|(v, r, _)| matches(v, r))?;
            let (_, _, code) = state.failures.remove(due);
            Some(ApiError::server_error(code))
        })
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
                forbidden: Vec::new(),
                failures: Vec::new(),
                requests: BTreeMap::new(),
                bookmark_interval: self.bookmark_interval,
            })),
            addr: Arc::new(Mutex::new(None)),
            severed: tokio::sync::broadcast::channel(1).0,
        };
        let app = Router::new()
            .fallback(server::handle)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Kubernetes API server");
        let addr = listener.local_addr().expect("the fake's address");
        *shared.addr.lock().unwrap_or_else(|p| p.into_inner()) = Some(addr);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        slipway::install_crypto_provider();
        let url = format!("http://{addr}").parse().expect("a loopback URL");
        let client = kube::Client::try_from(kube::Config::new(url)).expect("a client for the fake");
        FakeKube {
            addr,
            shared,
            client,
        }
    }
}

/// A running fake Kubernetes API server and a real client for it.
#[derive(Clone)]
pub struct FakeKube {
    addr: SocketAddr,
    shared: Shared,
    client: kube::Client,
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

    /// A `kube::Client` for this server, with `default` as its namespace.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    fn resource(plural: &str) -> &'static ResourceType {
        resources::RESOURCES
            .iter()
            .find(|rt| rt.plural == plural)
            .unwrap_or_else(|| panic!("the fake does not serve {plural}"))
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
            .with(|state| jobs::set_pod_phase(&mut state.store, namespace, pod, phase, false))
            .unwrap_or_else(|e| panic!("set the phase of pod {namespace}/{pod}: {}", e.message));
    }

    /// As the kubelet: the pod's first init container exited 128, the pod `Failed`.
    pub fn fail_init_container(&self, namespace: &str, pod: &str) {
        self.shared
            .with(|state| jobs::set_pod_phase(&mut state.store, namespace, pod, "Failed", true))
            .unwrap_or_else(|e| panic!("fail pod {namespace}/{pod}: {}", e.message));
    }

    /// As the Job controller: ends the Job with `outcome` — its active pods finish accordingly
    /// (or are deleted at a deadline) and the Job gets the conditions, counts and times
    /// Kubernetes 1.32 writes.
    pub fn finish_job(&self, namespace: &str, job: &str, outcome: JobOutcome) {
        self.shared
            .with(|state| {
                let done = jobs::finish(&mut state.store, namespace, job, outcome);
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

    /// The stored objects of a resource (`"jobs"`, `"secrets"`…) in a namespace, by name.
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
    /// `resource` (`jobs`, `pods/log`, or `*`) with 403 Forbidden from now on.
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

    /// Answers the next `verb` on `resource` with a server error (`500`, `503`, `504`), once.
    pub fn fail_once(&self, verb: &str, resource: &str, code: u16) {
        self.shared.with(|state| {
            state
                .failures
                .push((verb.to_string(), resource.to_string(), code))
        });
    }

    /// How many requests `verb` on `resource` received so far.
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
