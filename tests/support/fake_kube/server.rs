//! The HTTP side: paths the way the apiserver lays them out, verbs, query parameters, watch
//! streams and pod logs, over the object store.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use super::discovery;
use super::resources::{Propagation, ResourceType};
use super::selectors::{FieldSelector, LabelSelector};
use super::status::{self, ApiError};
use super::store::{Event, EventType, Part, PatchKind, Scope, Write};
use super::Shared;

/// A request for objects: which type, where, which one, which subresource.
#[derive(Debug)]
struct Target {
    rt: &'static ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

impl Target {
    /// `jobs` or `jobs/status`, as RBAC names what a request touches.
    fn resource(&self) -> String {
        match &self.subresource {
            Some(sub) => format!("{}/{sub}", self.rt.plural),
            None => self.rt.plural.to_string(),
        }
    }
}

fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error_response(error: &ApiError) -> Response {
    let code = StatusCode::from_u16(error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, &error.to_status())
}

fn ok(body: &Value) -> Response {
    json_response(StatusCode::OK, body)
}

pub async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let segments: Vec<&str> = uri
        .path()
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    if method == Method::GET {
        if let Some(document) = discovery_document(&shared, &segments) {
            return ok(&document);
        }
    }
    let dry_run = match query.get("dryRun").map(String::as_str) {
        None => false,
        Some("All") => true,
        Some(other) => {
            return error_response(&ApiError::bad_request(format!(
                "dryRun: Unsupported value: \"{other}\": supported values: \"All\""
            )))
        }
    };
    let Some(target) = parse_target(&shared, &segments) else {
        return error_response(&ApiError::path_not_found(uri.path()));
    };
    let watching = query.get("watch").is_some_and(|w| w == "true" || w == "1");
    let verb = match (&method, target.name.is_some()) {
        (&Method::GET, _) if watching => "watch",
        (&Method::GET, true) => "get",
        (&Method::GET, false) => "list",
        (&Method::POST, false) => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => return error_response(&ApiError::method_not_allowed(method.as_str())),
    };
    let applying = verb == "patch" && content_type(&headers) == APPLY;
    let dry_run = dry_run || (verb.starts_with("delete") && dry_run_in(&body));
    let allowed = match target.subresource.as_deref() {
        // A namespaced object is made in its namespace's collection, never across namespaces.
        None if verb == "create" => target.namespace.is_some() || !target.rt.namespaced,
        None => true,
        Some("log") => verb == "get",
        // Applies to subresources are not served.
        Some(_) => matches!(verb, "get" | "update" | "patch") && !applying,
    };
    if !allowed {
        return error_response(&ApiError::method_not_allowed(method.as_str()));
    }
    // Requests are counted as `apply` for server-side applies and `dry-run <verb>` for dry
    // runs, so tests tell them apart; RBAC knows an apply as a `patch`.
    let mut counted = if applying { "apply" } else { verb }.to_string();
    if dry_run {
        counted = format!("dry-run {counted}");
    }
    if let Some(refusal) = shared.admit(
        verb,
        &counted,
        &target.resource(),
        target.rt,
        target.namespace.as_deref(),
        target.name.as_deref(),
        target.subresource.as_deref(),
    ) {
        return error_response(&refusal);
    }
    let manager = field_manager(&query, &headers);
    let write = Write::by(&manager, dry_run);
    let result = match verb {
        "watch" => return watch(shared, &target, &query),
        "get" if target.subresource.as_deref() == Some("log") => {
            return logs(shared, &target, &query).await
        }
        "list" => list(&shared, &target, &query),
        "get" => shared.with(|state| {
            state
                .store
                .get(target.rt, target.namespace.as_deref(), name(&target))
        }),
        "create" => {
            return match parse_body(&body).and_then(|object| {
                shared.with(|state| {
                    let created = state.store.create_with(
                        target.rt,
                        target.namespace.as_deref(),
                        object,
                        &write,
                    )?;
                    Ok(state.after_write(target.rt, created, dry_run))
                })
            }) {
                Ok(created) => json_response(StatusCode::CREATED, &created),
                Err(error) => error_response(&error),
            }
        }
        "update" => parse_body(&body).and_then(|object| {
            let part = part(&target)?;
            shared.with(|state| {
                let replaced = state.store.replace_with(
                    target.rt,
                    target.namespace.as_deref(),
                    name(&target),
                    object,
                    part,
                    &write,
                )?;
                Ok(state.after_write(target.rt, replaced, dry_run || part == Part::Status))
            })
        }),
        "patch" if applying => {
            return match apply(&shared, &target, &query, &body, dry_run) {
                Ok((object, true)) => json_response(StatusCode::CREATED, &object),
                Ok((object, false)) => ok(&object),
                Err(error) => error_response(&error),
            }
        }
        "patch" => patch(&shared, &target, &headers, &query, &body, &write),
        "delete" => delete(&shared, &target, &body, dry_run),
        _ => delete_collection(&shared, &target, &query, &body, dry_run),
    };
    match result {
        Ok(value) => ok(&value),
        Err(error) => error_response(&error),
    }
}

const APPLY: &str = "application/apply-patch+yaml";

/// Whether `DeleteOptions` in a body ask for a dry run (`dryRun: ["All"]`), as clients that
/// send options in the body do.
fn dry_run_in(body: &Bytes) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|options| options["dryRun"].as_array().cloned())
        .is_some_and(|modes| modes.iter().any(|m| m == "All"))
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
}

/// The `fieldManager` of a request, or what the apiserver defaults it to: the client's user
/// agent up to its first `/`.
fn field_manager(query: &HashMap<String, String>, headers: &HeaderMap) -> String {
    if let Some(manager) = query.get("fieldManager").filter(|m| !m.is_empty()) {
        return manager.clone();
    }
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match agent.split('/').next().filter(|a| !a.is_empty()) {
        Some(prefix) => prefix.to_string(),
        None => "unknown".to_string(),
    }
}

/// A server-side apply: the object and whether it was created.
fn apply(
    shared: &Shared,
    target: &Target,
    query: &HashMap<String, String>,
    body: &Bytes,
    dry_run: bool,
) -> Result<(Value, bool), ApiError> {
    let Some(manager) = query.get("fieldManager").filter(|m| !m.is_empty()) else {
        return Err(ApiError::invalid_patch_options(
            "fieldManager",
            "FieldValueRequired",
            "Required value: is required for apply patch",
        ));
    };
    let force = match query.get("force").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid value for force: {other:?}"
            )))
        }
    };
    // An apply body is YAML; JSON is YAML too.
    let config: Value = serde_yaml_ng::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    let namespace = target.namespace.as_deref();
    shared.with(|state| {
        let absent = state.store.get(target.rt, namespace, name(target)).is_err();
        if absent {
            // Creating through an apply needs RBAC's `create` too.
            if let Some(refusal) = state.refusal(
                "create",
                &target.resource(),
                target.rt,
                namespace,
                target.name.as_deref(),
                None,
            ) {
                return Err(refusal);
            }
        }
        let (object, created) = state.store.apply(
            target.rt,
            namespace,
            name(target),
            config,
            manager,
            force,
            dry_run,
        )?;
        Ok((state.after_write(target.rt, object, dry_run), created))
    })
}

fn name(target: &Target) -> &str {
    target.name.as_deref().unwrap_or_default()
}

fn part(target: &Target) -> Result<Part, ApiError> {
    match target.subresource.as_deref() {
        None => Ok(Part::Object),
        Some("status") if target.rt.has_status => Ok(Part::Status),
        Some(_) => Err(ApiError::method_not_allowed("update")),
    }
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("the body of the request is not valid JSON: {e}"))
    })
}

fn discovery_document(shared: &Shared, segments: &[&str]) -> Option<Value> {
    let types = shared.with(|state| state.store.types());
    match segments {
        ["version"] => Some(discovery::version()),
        ["api"] => Some(discovery::core_versions(&shared.address())),
        ["api", version] => discovery::resource_list(&types, "", version),
        ["apis"] => Some(discovery::group_list(&types)),
        ["apis", group] => discovery::api_group(&types, group),
        ["apis", group, version] => discovery::resource_list(&types, group, version),
        _ => None,
    }
}

fn parse_target(shared: &Shared, segments: &[&str]) -> Option<Target> {
    let (group, version, rest) = match segments {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, rest @ ..] if *plural != "status" && *plural != "finalize" => {
            (Some(ns.to_string()), [&[*plural][..], rest].concat())
        }
        _ => (None, rest.to_vec()),
    };
    let plural = rest.first()?;
    let rt = shared.with(|state| state.store.resource_type(group, version, plural))?;
    if rt.namespaced != namespace.is_some() && rest.len() > 1 {
        return None;
    }
    let subresource = rest.get(2).map(|s| s.to_string());
    if let Some(sub) = &subresource {
        if !rt.subresources().contains(&sub.as_str()) || rest.len() > 3 {
            return None;
        }
    }
    Some(Target {
        rt,
        namespace,
        name: rest.get(1).map(|s| s.to_string()),
        subresource,
    })
}

fn scope(target: &Target, query: &HashMap<String, String>) -> Result<Scope, ApiError> {
    Ok(Scope {
        namespace: target.namespace.clone(),
        labels: LabelSelector::parse(
            query
                .get("labelSelector")
                .map(String::as_str)
                .unwrap_or_default(),
        )
        .map_err(ApiError::bad_request)?,
        fields: FieldSelector::parse(
            query
                .get("fieldSelector")
                .map(String::as_str)
                .unwrap_or_default(),
        )
        .map_err(ApiError::bad_request)?,
    })
}

fn list(
    shared: &Shared,
    target: &Target,
    query: &HashMap<String, String>,
) -> Result<Value, ApiError> {
    let scope = scope(target, query)?;
    let (items, revision) =
        shared.with(|state| (state.store.list(target.rt, &scope), state.store.revision()));
    let offset = match query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("invalid continue token {token:?}")))?,
        None => 0,
    };
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let end = limit.map_or(items.len(), |l| (offset + l).min(items.len()));
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if end < items.len() {
        metadata["continue"] = json!(end.to_string());
        metadata["remainingItemCount"] = json!(items.len() - end);
    }
    Ok(json!({
        "kind": format!("{}List", target.rt.kind),
        "apiVersion": target.rt.api_version(),
        "metadata": metadata,
        "items": items.get(offset.min(end)..end).unwrap_or_default(),
    }))
}

fn patch(
    shared: &Shared,
    target: &Target,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: &Bytes,
    write: &Write,
) -> Result<Value, ApiError> {
    if query.contains_key("force") {
        return Err(ApiError::invalid_patch_options(
            "force",
            "FieldValueForbidden",
            "Forbidden: may not be specified for non-apply patch",
        ));
    }
    let patch = parse_body(body)?;
    let part = part(target)?;
    let kind = match content_type(headers) {
        // Strategic merge keys are not modelled: lists are replaced whole, as in a merge patch.
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            PatchKind::Merge
        }
        "application/json-patch+json" => PatchKind::Json,
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    shared.with(|state| {
        let patched = state.store.patch_with(
            target.rt,
            target.namespace.as_deref(),
            name(target),
            kind,
            &patch,
            part,
            write,
        )?;
        Ok(state.after_write(target.rt, patched, write.dry_run || part == Part::Status))
    })
}

fn delete(
    shared: &Shared,
    target: &Target,
    body: &Bytes,
    dry_run: bool,
) -> Result<Value, ApiError> {
    let propagation = delete_propagation(body)?;
    shared.with(|state| {
        let namespace = target.namespace.as_deref();
        let current = state.store.get(target.rt, namespace, name(target))?;
        check_preconditions(target.rt, &current, body)?;
        let gone =
            state
                .store
                .delete_with(target.rt, namespace, name(target), propagation, dry_run)?;
        state.forget_deleted_pods();
        let uid = gone["metadata"]["uid"].as_str().unwrap_or_default();
        Ok(status::deleted(target.rt, name(target), uid))
    })
}

/// Deletes every object the selectors match and answers with the list of them.
fn delete_collection(
    shared: &Shared,
    target: &Target,
    query: &HashMap<String, String>,
    body: &Bytes,
    dry_run: bool,
) -> Result<Value, ApiError> {
    let propagation = delete_propagation(body)?;
    let scope = scope(target, query)?;
    shared.with(|state| {
        let mut deleted = Vec::new();
        for object in state.store.list(target.rt, &scope) {
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            let namespace = object["metadata"]["namespace"].as_str();
            match state
                .store
                .delete_with(target.rt, namespace, name, propagation, dry_run)
            {
                Ok(gone) => deleted.push(gone),
                // Already collected as a dependent of one deleted before it.
                Err(error) if error.code == 404 => {}
                Err(error) => return Err(error),
            }
        }
        state.forget_deleted_pods();
        Ok(json!({
            "kind": format!("{}List", target.rt.kind),
            "apiVersion": target.rt.api_version(),
            "metadata": {"resourceVersion": state.store.revision().to_string()},
            "items": deleted,
        }))
    })
}

fn delete_propagation(body: &Bytes) -> Result<Option<Propagation>, ApiError> {
    let options = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    match options["propagationPolicy"].as_str() {
        None => Ok(None),
        Some(policy) => Propagation::parse(policy).map(Some).ok_or_else(|| {
            ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: \"{policy}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            ))
        }),
    }
}

fn check_preconditions(rt: &ResourceType, current: &Value, body: &Bytes) -> Result<(), ApiError> {
    let Ok(options) = serde_json::from_slice::<Value>(body) else {
        return Ok(());
    };
    let name = current["metadata"]["name"].as_str().unwrap_or_default();
    for field in ["uid", "resourceVersion"] {
        if let Some(expected) = options["preconditions"][field].as_str() {
            if current["metadata"][field].as_str() != Some(expected) {
                return Err(ApiError {
                    message: format!(
                        "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: {field}: {expected}, ObjectMeta.{field}: {}",
                        rt.group_resource(),
                        current["metadata"][field].as_str().unwrap_or_default()
                    ),
                    ..ApiError::conflict(rt, name)
                });
            }
        }
    }
    Ok(())
}

/// What a watch on `scope` sees of one change: a selector watch sees an object that starts
/// matching as ADDED and one that stops matching as DELETED, as the apiserver's cache does.
fn seen(rt: &ResourceType, scope: &Scope, event: &Event) -> Option<(&'static str, Value)> {
    if event.resource != rt {
        return None;
    }
    let now = scope.matches(&event.object);
    let before = event.before.as_ref().is_some_and(|b| scope.matches(b));
    let kind = match (event.kind, before, now) {
        (EventType::Added, _, true) => EventType::Added,
        (EventType::Deleted, _, true) => EventType::Deleted,
        (EventType::Modified, true, true) => EventType::Modified,
        (EventType::Modified, false, true) => EventType::Added,
        (EventType::Modified, true, false) => EventType::Deleted,
        _ => return None,
    };
    Some((kind.as_str(), event.object.clone()))
}

fn line(kind: &str, object: &Value) -> Bytes {
    Bytes::from(format!("{}\n", json!({"type": kind, "object": object})))
}

fn stream(rx: mpsc::Receiver<Bytes>) -> Body {
    Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|bytes| (Ok::<_, Infallible>(bytes), rx))
    }))
}

fn watch(shared: Shared, target: &Target, query: &HashMap<String, String>) -> Response {
    let scope = match scope(target, query) {
        Ok(scope) => scope,
        Err(error) => return error_response(&error),
    };
    let scope = Scope {
        fields: match target.name.as_deref() {
            // A watch on one object is a field-selected watch, as the apiserver serves it.
            Some(name) => match FieldSelector::parse(&format!("metadata.name={name}")) {
                Ok(f) => f,
                Err(e) => return error_response(&ApiError::bad_request(e)),
            },
            None => scope.fields.clone(),
        },
        ..scope
    };
    let rt = target.rt;
    let bookmarks = query
        .get("allowWatchBookmarks")
        .is_some_and(|b| b == "true");
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800);
    let from = query
        .get("resourceVersion")
        .filter(|rv| !rv.is_empty() && *rv != "0");
    let start = shared.with(|state| -> Result<WatchStart, ApiError> {
        let revision = state.store.revision();
        match from {
            None => {
                // No version: the current state as ADDED events, then changes.
                let initial = state
                    .store
                    .list(rt, &scope)
                    .into_iter()
                    .map(|o| ("ADDED", o))
                    .collect();
                let (_, rx) = state.store.watch_from(revision)?;
                Ok(WatchStart {
                    initial,
                    events: rx,
                    revision,
                })
            }
            Some(rv) => {
                let asked = rv.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version {rv:?}"))
                })?;
                let (replay, rx) = state.store.watch_from(asked)?;
                Ok(WatchStart {
                    initial: replay.iter().filter_map(|e| seen(rt, &scope, e)).collect(),
                    events: rx,
                    revision,
                })
            }
        }
    });
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let body = stream(rx);
    match start {
        Err(error) => {
            // The apiserver accepts the watch and ends it with an ERROR event carrying the
            // Status (410 Expired for a version it no longer holds).
            let _ = tx.try_send(line("ERROR", &error.to_status()));
        }
        Ok(start) => {
            let interval = shared.with(|state| state.bookmark_interval);
            let severed = shared.severed.subscribe();
            let watch = Watch {
                severed,
                shared,
                rt,
                scope,
                bookmarks,
                interval,
                timeout: Duration::from_secs(timeout),
            };
            tokio::spawn(watch.serve(start, tx));
        }
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Where a watch starts: what it sends first, and the changes after `revision`.
struct WatchStart {
    initial: Vec<(&'static str, Value)>,
    events: broadcast::Receiver<Event>,
    revision: u64,
}

/// One open watch stream.
struct Watch {
    severed: broadcast::Receiver<()>,
    shared: Shared,
    rt: &'static ResourceType,
    scope: Scope,
    bookmarks: bool,
    interval: Duration,
    timeout: Duration,
}

impl Watch {
    async fn serve(self, start: WatchStart, tx: mpsc::Sender<Bytes>) {
        let Watch {
            mut severed,
            shared,
            rt,
            scope,
            bookmarks,
            interval,
            timeout,
        } = self;
        let WatchStart {
            initial,
            mut events,
            revision: mut last,
        } = start;
        for (kind, object) in initial {
            last = last.max(revision_of(&object));
            if tx.send(line(kind, &object)).await.is_err() {
                return;
            }
        }
        let deadline = Instant::now() + timeout;
        let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
        let bookmark = |revision: u64| json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": {"resourceVersion": revision.to_string()}});
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                _ = ticks.tick(), if bookmarks => {
                    // Everything committed up to now is already in the channel: send it first, so
                    // the bookmark never claims a version whose events this watch has not sent.
                    let now = shared.with(|state| state.store.revision());
                    while let Ok(event) = events.try_recv() {
                        last = last.max(event.revision);
                        if let Some((kind, object)) = seen(rt, &scope, &event) {
                            if tx.send(line(kind, &object)).await.is_err() { return; }
                        }
                    }
                    last = last.max(now);
                    if tx.send(line("BOOKMARK", &bookmark(last))).await.is_err() { return; }
                    continue;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if bookmarks {
                        let _ = tx.send(line("BOOKMARK", &bookmark(last))).await;
                    }
                    return;
                }
                _ = tx.closed() => return,
                _ = severed.recv() => return,
            };
            match event {
                Ok(event) => {
                    last = last.max(event.revision);
                    if let Some((kind, object)) = seen(rt, &scope, &event) {
                        if tx.send(line(kind, &object)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let oldest = shared.with(|state| state.store.revision());
                    let _ = tx
                        .send(line("ERROR", &ApiError::expired(last, oldest).to_status()))
                        .await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

fn revision_of(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0)
}

/// The container a log request is about, with the apiserver's and kubelet's refusals: a name
/// is required when the pod has several containers, must be one of the pod's, and the
/// container must have started.
fn log_container(pod: &Value, pod_name: &str, asked: Option<&String>) -> Result<String, ApiError> {
    let names = |field: &str| -> Vec<String> {
        pod["spec"][field]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (containers, inits) = (names("containers"), names("initContainers"));
    let container = match asked.filter(|c| !c.is_empty()) {
        Some(name) => name.clone(),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            let mut message = format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !inits.is_empty() {
                message.push_str(&format!(
                    " or one of the init containers: [{}]",
                    inits.join(" ")
                ));
            }
            return Err(ApiError::bad_request(message));
        }
    };
    if !containers.contains(&container) && !inits.contains(&container) {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {pod_name}"
        )));
    }
    let statuses = ["containerStatuses", "initContainerStatuses"]
        .iter()
        .flat_map(|field| pod["status"][field].as_array().cloned().unwrap_or_default());
    for status in statuses.filter(|s| s["name"].as_str() == Some(container.as_str())) {
        if let Some(reason) = status["state"]["waiting"]["reason"].as_str() {
            return Err(ApiError::bad_request(format!(
                "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {reason}"
            )));
        }
    }
    Ok(container)
}

async fn logs(shared: Shared, target: &Target, query: &HashMap<String, String>) -> Response {
    let namespace = target.namespace.clone().unwrap_or_default();
    let pod = name(target).to_string();
    let rt = target.rt;
    let lines = shared.with(|state| {
        let object = state.store.get(rt, Some(&namespace), &pod)?;
        let container = log_container(&object, &pod, query.get("container"))?;
        let key = (namespace.clone(), pod.clone(), container);
        Ok::<_, ApiError>((state.logs.get(&key).cloned().unwrap_or_default(), key))
    });
    let (lines, key) = match lines {
        Ok(found) => found,
        Err(error) => return error_response(&error),
    };
    let tail = query.get("tailLines").and_then(|t| t.parse::<usize>().ok());
    let skip = tail.map_or(0, |t| lines.len().saturating_sub(t));
    let text: String = lines[skip..].iter().map(|l| format!("{l}\n")).collect();
    let follow = query.get("follow").is_some_and(|f| f == "true");
    if !follow {
        return (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], text).into_response();
    }
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    tokio::spawn(async move {
        if tx.send(Bytes::from(text)).await.is_err() {
            return;
        }
        let mut sent = lines.len();
        // Following ends when the pod finishes or goes away, as the kubelet's stream does.
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let (more, done) = shared.with(|state| {
                let all = state.logs.get(&key).cloned().unwrap_or_default();
                let phase = state
                    .store
                    .get(rt, Some(&key.0), &key.1)
                    .ok()
                    .and_then(|p| p["status"]["phase"].as_str().map(str::to_string));
                let done = !matches!(phase.as_deref(), Some("Pending") | Some("Running"));
                (all, done)
            });
            let new: String = more.iter().skip(sent).map(|l| format!("{l}\n")).collect();
            sent = more.len();
            if !new.is_empty() && tx.send(Bytes::from(new)).await.is_err() {
                return;
            }
            if done {
                return;
            }
        }
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain")],
        stream(rx),
    )
        .into_response()
}
