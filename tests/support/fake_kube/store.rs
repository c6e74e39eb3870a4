//! The object store: every object as JSON under (group, version, resource, namespace, name),
//! one cluster-wide `resourceVersion` counter, a bounded history of changes for watches to
//! resume from, and the garbage collector for `ownerReferences`.
//!
//! Every change goes through [`Store::commit`], which stamps the new `resourceVersion`, records
//! the event and tells live watches. A dry run ([`Write::dry_run`]) goes through every check
//! and answers with what would be stored, without committing. `managedFields` are kept by
//! `managed` on every write that names (or defaults) a field manager; server-side apply is
//! [`Store::apply`]. CustomResourceDefinitions add the types they define while they exist.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::broadcast;

use super::managed;
use super::resources::{self, Propagation, ResourceType};
use super::selectors::{labels_of, FieldSelector, LabelSelector};
use super::status::ApiError;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub group: &'static str,
    pub version: &'static str,
    pub resource: &'static str,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn new(rt: &'static ResourceType, namespace: Option<&str>, name: &str) -> Key {
        Key {
            group: rt.group,
            version: rt.version,
            resource: rt.plural,
            namespace: namespace.unwrap_or_default().to_string(),
            name: name.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug, Clone)]
pub struct Event {
    pub revision: u64,
    pub resource: &'static ResourceType,
    pub kind: EventType,
    /// The object before the change (none for a create), so a selector watch can tell an
    /// object that stopped matching.
    pub before: Option<Value>,
    /// The object after the change; for a delete, the object as it was, at the new revision.
    pub object: Value,
}

/// Which objects a list or a watch is about.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Scope {
    pub fn matches(&self, object: &Value) -> bool {
        let in_namespace = match &self.namespace {
            Some(ns) => object["metadata"]["namespace"].as_str() == Some(ns.as_str()),
            None => true,
        };
        in_namespace && self.labels.matches(&labels_of(object)) && self.fields.matches(object)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Merge,
    Json,
}

/// Who writes, for `managedFields`, and whether the write is only a dry run.
#[derive(Debug, Clone, Default)]
pub struct Write {
    pub fields: Fields,
    pub dry_run: bool,
}

impl Write {
    /// A write by a controller the test plays: no manager is recorded.
    pub fn internal() -> Write {
        Write::default()
    }

    pub fn by(manager: &str, dry_run: bool) -> Write {
        Write {
            fields: Fields::Update(manager.to_string()),
            dry_run,
        }
    }
}

/// How a write changes `managedFields`.
#[derive(Debug, Clone, Default)]
pub enum Fields {
    /// Kept; fields that are gone are owned by nobody.
    #[default]
    Untracked,
    /// The manager of an `Update` (create, update, patch).
    Update(String),
    /// The object carries them already (an apply computed them).
    Given,
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Object,
    Status,
}

pub struct Store {
    objects: BTreeMap<Key, Value>,
    /// Types defined by the stored CustomResourceDefinitions.
    custom: Vec<&'static ResourceType>,
    revision: u64,
    uids: u64,
    history: VecDeque<Event>,
    history_limit: usize,
    events: broadcast::Sender<Event>,
}

impl Store {
    pub fn new(history_limit: usize) -> Store {
        let (events, _) = broadcast::channel(1024);
        Store {
            objects: BTreeMap::new(),
            custom: Vec::new(),
            revision: 0,
            uids: 0,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            events,
        }
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Every type served now: the built-in ones, then those of stored CRDs.
    pub fn types(&self) -> Vec<&'static ResourceType> {
        resources::RESOURCES
            .iter()
            .chain(self.custom.iter().copied())
            .collect()
    }

    pub fn resource_type(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<&'static ResourceType> {
        resources::find(group, version, plural).or_else(|| {
            self.custom
                .iter()
                .copied()
                .find(|rt| rt.group == group && rt.version == version && rt.plural == plural)
        })
    }

    fn refresh_custom_types(&mut self) {
        self.custom = self
            .objects
            .iter()
            .filter(|(key, _)| key.resource == "customresourcedefinitions")
            .flat_map(|(_, crd)| resources::from_crd(crd))
            .collect();
    }

    pub fn get(
        &self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        self.objects
            .get(&Key::new(rt, namespace, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))
    }

    pub fn list(&self, rt: &'static ResourceType, scope: &Scope) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|(key, object)| {
                key.resource == rt.plural && key.group == rt.group && scope.matches(object)
            })
            .map(|(_, object)| object.clone())
            .collect()
    }

    pub fn create(
        &mut self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        object: Value,
    ) -> Result<Value, ApiError> {
        self.create_with(rt, namespace, object, &Write::internal())
    }

    pub fn create_with(
        &mut self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        mut object: Value,
        write: &Write,
    ) -> Result<Value, ApiError> {
        if !object.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request is not a JSON object",
            ));
        }
        let meta = metadata(&mut object);
        let name = match meta.get("name").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => match meta.get("generateName").and_then(Value::as_str) {
                Some(prefix) => self.generate_name(rt, namespace, prefix),
                None => {
                    return Err(ApiError::invalid(
                        rt,
                        "",
                        "metadata.name",
                        "Required value: name or generateName is required",
                    ))
                }
            },
        };
        if let Some(problem) = invalid_name(&name) {
            return Err(ApiError::invalid(
                rt,
                &name,
                "metadata.name",
                &format!("Invalid value: \"{name}\": {problem}"),
            ));
        }
        if let Some(ns) = namespace {
            match meta.get("namespace").and_then(Value::as_str) {
                Some(given) if given != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
                _ => {}
            }
            let namespaces =
                resources::find("", "v1", "namespaces").expect("namespaces are served");
            if !self.objects.contains_key(&Key::new(namespaces, None, ns)) {
                return Err(ApiError::not_found(namespaces, ns));
            }
        }
        let key = Key::new(rt, namespace, &name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(rt, &name));
        }
        self.uids += 1;
        meta.insert("name".into(), json!(name));
        match namespace {
            Some(ns) => meta.insert("namespace".into(), json!(ns)),
            None => meta.remove("namespace"),
        };
        meta.insert("uid".into(), json!(uid(self.uids)));
        meta.insert("creationTimestamp".into(), json!(now()));
        meta.insert("generation".into(), json!(1));
        for server_set in ["resourceVersion", "deletionTimestamp"] {
            meta.remove(server_set);
        }
        if !matches!(write.fields, Fields::Given) {
            meta.remove("managedFields");
        }
        object["apiVersion"] = json!(rt.api_version());
        object["kind"] = json!(rt.kind);
        if rt.has_status {
            // Status is the controllers' to write: a create cannot set it.
            object["status"] = initial_status(rt, &object);
        }
        if rt.plural == "jobs" {
            let uid = uid(self.uids);
            super::jobs::default_on_create(&mut object, &uid);
        }
        admit(rt, &mut object);
        validate(rt, &name, &object)?;
        match &write.fields {
            Fields::Update(manager) => managed::record_update(None, &mut object, manager, rt),
            Fields::Untracked | Fields::Given => {}
        }
        if write.dry_run {
            return Ok(object);
        }
        Ok(self.commit(rt, key, EventType::Added, None, object))
    }

    /// A PUT: the whole object, or only its status. A `resourceVersion` in the body must be the
    /// stored one (optimistic concurrency); without one the update is unconditional.
    pub fn replace(
        &mut self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        name: &str,
        body: Value,
        part: Part,
    ) -> Result<Value, ApiError> {
        self.replace_with(rt, namespace, name, body, part, &Write::internal())
    }

    pub fn replace_with(
        &mut self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        name: &str,
        body: Value,
        part: Part,
        write: &Write,
    ) -> Result<Value, ApiError> {
        let key = Key::new(rt, namespace, name);
        let current = self
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))?;
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request is not a JSON object",
            ));
        }
        if let Some(given) = body["metadata"]["name"].as_str() {
            if given != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({given}) does not match the name on the URL ({name})"
                )));
            }
        }
        if let Some(given) = body["metadata"]["resourceVersion"].as_str() {
            if Some(given) != current["metadata"]["resourceVersion"].as_str() {
                return Err(ApiError::conflict(rt, name));
            }
        }
        let mut next = match part {
            Part::Status => {
                let mut next = current.clone();
                next["status"] = body.get("status").cloned().unwrap_or(Value::Null);
                next
            }
            Part::Object => {
                let mut next = body;
                // Identity and server-set fields stay as stored.
                let meta = metadata(&mut next);
                for kept in [
                    "name",
                    "namespace",
                    "uid",
                    "creationTimestamp",
                    "generation",
                    "deletionTimestamp",
                ] {
                    match current["metadata"].get(kept) {
                        Some(value) => meta.insert(kept.into(), value.clone()),
                        None => meta.remove(kept),
                    };
                }
                next["apiVersion"] = json!(rt.api_version());
                next["kind"] = json!(rt.kind);
                if rt.has_status {
                    next["status"] = current.get("status").cloned().unwrap_or(Value::Null);
                }
                next
            }
        };
        admit(rt, &mut next);
        validate(rt, name, &next)?;
        match (&write.fields, part) {
            (Fields::Given, Part::Object) => {}
            (Fields::Update(manager), Part::Object) => {
                managed::record_update(Some(&current), &mut next, manager, rt)
            }
            _ => managed::forget_removed(Some(&current), &mut next, rt),
        }
        if spec_of(&next) != spec_of(&current) {
            let generation = current["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
            next["metadata"]["generation"] = json!(generation);
        }
        if strip_revision(&next) == strip_revision(&current) {
            // A no-op write changes nothing, not even the resourceVersion, as in Kubernetes.
            return Ok(current);
        }
        if write.dry_run {
            return Ok(next);
        }
        Ok(self.commit(rt, key, EventType::Modified, Some(current), next))
    }

    /// Server-side apply of `config` by `manager`: creates the object when absent (the bool
    /// says so), otherwise merges it in; a conflict with another manager's fields is `409`
    /// unless `force`.
    #[allow(clippy::too_many_arguments)]
    pub fn apply(
        &mut self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        name: &str,
        config: Value,
        manager: &str,
        force: bool,
        dry_run: bool,
    ) -> Result<(Value, bool), ApiError> {
        if !config.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request is not a JSON object",
            ));
        }
        let (api_version, kind) = (config["apiVersion"].as_str(), config["kind"].as_str());
        if api_version != Some(rt.api_version().as_str()) || kind != Some(rt.kind) {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({}) does not match the expected API version ({})",
                api_version.unwrap_or_default(),
                rt.api_version()
            )));
        }
        if config["metadata"]["name"].as_str() != Some(name) {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        let current = self.objects.get(&Key::new(rt, namespace, name)).cloned();
        let live = current.clone().unwrap_or_else(|| {
            json!({
                "apiVersion": rt.api_version(),
                "kind": rt.kind,
                "metadata": {"name": name},
            })
        });
        let merged = managed::apply(&live, &config, manager, force, rt)
            .map_err(|conflicts| ApiError::apply_conflict(&conflicts))?;
        let write = Write {
            fields: Fields::Given,
            dry_run,
        };
        match current {
            None => self
                .create_with(rt, namespace, merged, &write)
                .map(|created| (created, true)),
            Some(_) => self
                .replace_with(rt, namespace, name, merged, Part::Object, &write)
                .map(|replaced| (replaced, false)),
        }
    }

    /// A merge patch (RFC 7386) or a JSON patch (RFC 6902), then the same checks as a replace:
    /// a `resourceVersion` the patch sets is a precondition, one it leaves alone is none.
    pub fn patch(
        &mut self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        name: &str,
        kind: PatchKind,
        patch: &Value,
        part: Part,
    ) -> Result<Value, ApiError> {
        self.patch_with(rt, namespace, name, kind, patch, part, &Write::internal())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn patch_with(
        &mut self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        name: &str,
        kind: PatchKind,
        patch: &Value,
        part: Part,
        write: &Write,
    ) -> Result<Value, ApiError> {
        let current = self.get(rt, namespace, name)?;
        let patched = match kind {
            PatchKind::Merge => {
                let mut merged = current.clone();
                merge(&mut merged, patch);
                merged
            }
            PatchKind::Json => super::patch::apply(&current, patch).map_err(|why| ApiError {
                code: 422,
                reason: "Invalid",
                message: format!(
                    "the server rejected our request due to an error in our request: {why}"
                ),
                details: None,
            })?,
        };
        self.replace_with(rt, namespace, name, patched, part, write)
    }

    /// Removes an object, then does what the garbage collector does with its dependents.
    pub fn delete(
        &mut self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        name: &str,
        propagation: Option<Propagation>,
    ) -> Result<Value, ApiError> {
        self.delete_with(rt, namespace, name, propagation, false)
    }

    /// A delete; a dry run only checks that there is something to delete.
    pub fn delete_with(
        &mut self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        name: &str,
        propagation: Option<Propagation>,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let key = Key::new(rt, namespace, name);
        let object = self
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))?;
        if dry_run {
            return Ok(object);
        }
        let propagation = propagation.unwrap_or(rt.default_propagation());
        let uid = object["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if propagation == Propagation::Foreground {
            self.collect_dependents(&uid);
        }
        self.objects.remove(&key);
        let deleted = self.commit(
            rt,
            key.clone(),
            EventType::Deleted,
            Some(object.clone()),
            object,
        );
        if rt.plural == "namespaces" {
            let inside: Vec<Key> = self
                .objects
                .keys()
                .filter(|k| k.namespace == name)
                .cloned()
                .collect();
            for key in inside {
                self.remove_key(&key);
            }
        }
        if rt.plural == "customresourcedefinitions" {
            // Deleting a CRD deletes every object of the types it defined.
            let group = deleted["spec"]["group"].as_str().unwrap_or_default();
            let plural = deleted["spec"]["names"]["plural"]
                .as_str()
                .unwrap_or_default();
            let defined: Vec<Key> = self
                .objects
                .keys()
                .filter(|k| k.group == group && k.resource == plural)
                .cloned()
                .collect();
            for key in defined {
                self.remove_key(&key);
            }
        }
        match propagation {
            Propagation::Orphan => self.orphan_dependents(&uid),
            _ => self.collect_dependents(&uid),
        }
        Ok(deleted)
    }

    fn remove_key(&mut self, key: &Key) {
        if let (Some(rt), Some(object)) = (
            self.resource_type(key.group, key.version, key.resource),
            self.objects.remove(key),
        ) {
            let uid = object["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            self.commit(
                rt,
                key.clone(),
                EventType::Deleted,
                Some(object.clone()),
                object,
            );
            self.collect_dependents(&uid);
        }
    }

    fn dependents(&self, owner_uid: &str) -> Vec<Key> {
        self.objects
            .iter()
            .filter(|(_, object)| {
                object["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"].as_str() == Some(owner_uid)))
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Deletes every object owned by `owner_uid`, and what they own in turn.
    fn collect_dependents(&mut self, owner_uid: &str) {
        if owner_uid.is_empty() {
            return;
        }
        for key in self.dependents(owner_uid) {
            self.remove_key(&key);
        }
    }

    /// Drops the owner's reference from its dependents, which stay.
    fn orphan_dependents(&mut self, owner_uid: &str) {
        if owner_uid.is_empty() {
            return;
        }
        for key in self.dependents(owner_uid) {
            let Some(rt) = self.resource_type(key.group, key.version, key.resource) else {
                continue;
            };
            let Some(current) = self.objects.get(&key).cloned() else {
                continue;
            };
            let mut next = current.clone();
            if let Some(refs) = next["metadata"]["ownerReferences"].as_array_mut() {
                refs.retain(|r| r["uid"].as_str() != Some(owner_uid));
            }
            self.commit(rt, key, EventType::Modified, Some(current), next);
        }
    }

    /// A free name from `generateName`: the prefix cut to 58 characters and five random ones,
    /// tried again on a collision as the apiserver does since 1.30.
    fn generate_name(
        &self,
        rt: &'static ResourceType,
        namespace: Option<&str>,
        prefix: &str,
    ) -> String {
        let base: String = prefix.chars().take(58).collect();
        let mut name = format!("{base}{}", suffix());
        for _ in 0..8 {
            if !self.objects.contains_key(&Key::new(rt, namespace, &name)) {
                break;
            }
            name = format!("{base}{}", suffix());
        }
        name
    }

    /// Stamps the next `resourceVersion`, stores (or forgets) the object, records the event.
    fn commit(
        &mut self,
        rt: &'static ResourceType,
        key: Key,
        kind: EventType,
        before: Option<Value>,
        mut object: Value,
    ) -> Value {
        self.revision += 1;
        object["metadata"]["resourceVersion"] = json!(self.revision.to_string());
        let is_crd = key.resource == "customresourcedefinitions";
        if kind != EventType::Deleted {
            self.objects.insert(key, object.clone());
        }
        if is_crd {
            self.refresh_custom_types();
        }
        let event = Event {
            revision: self.revision,
            resource: rt,
            kind,
            before,
            object: object.clone(),
        };
        self.history.push_back(event.clone());
        while self.history.len() > self.history_limit {
            self.history.pop_front();
        }
        // No watch listening is not an error.
        let _ = self.events.send(event);
        object
    }

    /// The events after `revision` and a receiver for those to come, taken together so none is
    /// missed or seen twice; `Expired` when the history no longer reaches back to `revision`.
    pub fn watch_from(
        &self,
        revision: u64,
    ) -> Result<(Vec<Event>, broadcast::Receiver<Event>), ApiError> {
        let oldest = self
            .history
            .front()
            .map(|e| e.revision)
            .unwrap_or(self.revision + 1);
        if revision + 1 < oldest {
            return Err(ApiError::expired(revision, oldest));
        }
        let replay = self
            .history
            .iter()
            .filter(|e| e.revision > revision)
            .cloned()
            .collect();
        Ok((replay, self.events.subscribe()))
    }
}

fn metadata(object: &mut Value) -> &mut Map<String, Value> {
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    object["metadata"]
        .as_object_mut()
        .expect("metadata was just made an object")
}

fn spec_of(object: &Value) -> Value {
    let mut spec = object.clone();
    if let Some(map) = spec.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    spec
}

fn strip_revision(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(meta) = object["metadata"].as_object_mut() {
        meta.remove("resourceVersion");
    }
    object
}

fn initial_status(rt: &ResourceType, object: &Value) -> Value {
    match rt.plural {
        "pods" => json!({"phase": "Pending"}),
        "namespaces" => json!({"phase": "Active"}),
        "persistentvolumeclaims" => json!({"phase": "Pending"}),
        // The apiextensions controller accepts the names and serves the CRD at once.
        "customresourcedefinitions" => {
            let at = now();
            let storage = object["spec"]["versions"]
                .as_array()
                .and_then(|vs| vs.iter().find(|v| v["storage"].as_bool() == Some(true)))
                .and_then(|v| v["name"].as_str())
                .unwrap_or_default();
            json!({
                "acceptedNames": object["spec"]["names"],
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                     "message": "no conflicts found", "lastTransitionTime": at},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                     "message": "the initial names have been accepted", "lastTransitionTime": at},
                ],
                "storedVersions": [storage],
            })
        }
        _ => json!({}),
    }
}

/// What the apiserver validates beyond the name: a CRD's name is `<plural>.<group>`.
fn validate(rt: &ResourceType, name: &str, object: &Value) -> Result<(), ApiError> {
    if rt.plural == "customresourcedefinitions" {
        let expected = format!(
            "{}.{}",
            object["spec"]["names"]["plural"]
                .as_str()
                .unwrap_or_default(),
            object["spec"]["group"].as_str().unwrap_or_default()
        );
        if name != expected {
            return Err(ApiError::invalid(
                rt,
                name,
                "metadata.name",
                &format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
            ));
        }
    }
    Ok(())
}

/// RFC 7386: objects merge key by key, `null` removes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Some(patch) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let target = target
        .as_object_mut()
        .expect("target was just made an object");
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// Why a name is not a DNS subdomain (RFC 1123), as the apiserver words it.
fn invalid_name(name: &str) -> Option<&'static str> {
    let label_ok = |label: &str| {
        !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.len() > 253 {
        return Some("must be no more than 253 characters");
    }
    if name.split('.').all(label_ok) {
        None
    } else {
        Some(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', \
             and must start and end with an alphanumeric character (e.g. 'example.com', regex used for \
             validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        )
    }
}

fn uid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// The five random characters `generateName` appends, from the apiserver's alphabet
/// (`k8s.io/apimachinery/pkg/util/rand`).
fn suffix() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// What every write of an object goes through, as the apiserver's strategies do: a Secret's
/// `stringData` is write-only and lands base64-encoded in `data`.
fn admit(rt: &ResourceType, object: &mut Value) {
    use base64::Engine;
    if rt.plural != "secrets" {
        return;
    }
    let Some(string_data) = object.as_object_mut().and_then(|o| o.remove("stringData")) else {
        return;
    };
    let Some(entries) = string_data.as_object() else {
        return;
    };
    if !object["data"].is_object() {
        object["data"] = json!({});
    }
    for (key, value) in entries {
        let text = value.as_str().unwrap_or_default();
        object["data"][key] = json!(base64::engine::general_purpose::STANDARD.encode(text));
    }
}

pub(super) fn now() -> String {
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    now.format(&Rfc3339).unwrap_or_default()
}
