//! Field ownership, as server-side apply keeps it in `metadata.managedFields`.
//!
//! A field set is the set of paths an object sets: leaves (scalars, atomic lists, empty maps)
//! and the items of keyed lists. Lists named `containers`, `initContainers`,
//! `ephemeralContainers`, `env` and `volumes` whose items all carry a distinct `name` are keyed
//! by it (`k:{"name":"web"}`), as Kubernetes' schemas key them; every other list is atomic
//! (owned and replaced whole). Maps are granular: their fields are owned one by one.
//!
//! Each entry of `managedFields` is one manager's set, per operation: `Apply` for server-side
//! applies, `Update` for creates, updates and patches. An `Update` takes the fields whose
//! values it changed from everyone else; an `Apply` that would change a field another manager
//! owns is a conflict unless forced, and removes the fields it applied before and no longer
//! sends unless another manager owns them. Writes to `status` are not tracked.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::resources::ResourceType;
use super::store::now;

const KEYED_BY_NAME: &[&str] = &[
    "containers",
    "initContainers",
    "ephemeralContainers",
    "env",
    "volumes",
];

/// Metadata the server sets, never owned by a manager.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "generateName",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Element {
    Field(String),
    /// An item of a keyed list, by its key as JSON: `{"name":"web"}`.
    Key(String),
}

pub type Path = Vec<Element>;
pub type FieldSet = BTreeSet<Path>;

/// `.spec.template.spec.containers[name="web"].image`, as the apiserver names a path.
pub fn path_string(path: &[Element]) -> String {
    let mut text = String::new();
    for element in path {
        match element {
            Element::Field(name) => {
                text.push('.');
                text.push_str(name);
            }
            Element::Key(key) => {
                let fields: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
                let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                text.push_str(&format!("[{}]", parts.join(",")));
            }
        }
    }
    text
}

fn key_of(item: &Value) -> Option<String> {
    item["name"]
        .as_str()
        .map(|name| json!({ "name": name }).to_string())
}

/// Whether the list under `field` is keyed: a known keyed list whose items all have a name,
/// no two the same.
fn is_keyed(field: &str, items: &[Value]) -> bool {
    if !KEYED_BY_NAME.contains(&field) || items.is_empty() {
        return false;
    }
    let mut seen = BTreeSet::new();
    items
        .iter()
        .all(|item| key_of(item).is_some_and(|key| seen.insert(key)))
}

/// The paths an object sets, without the identity, server-set metadata and (for types with a
/// status subresource) status.
pub fn fields_of(object: &Value, rt: &ResourceType) -> FieldSet {
    let mut owned = object.clone();
    if let Some(map) = owned.as_object_mut() {
        map.remove("apiVersion");
        map.remove("kind");
        if rt.has_status {
            map.remove("status");
        }
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            for field in SERVER_METADATA {
                meta.remove(*field);
            }
            if meta.is_empty() {
                map.remove("metadata");
            }
        }
    }
    let mut set = FieldSet::new();
    if let Some(map) = owned.as_object() {
        for (name, value) in map {
            walk_member(
                name,
                value,
                &mut vec![Element::Field(name.clone())],
                &mut set,
            );
        }
    }
    set
}

fn walk(value: &Value, path: &mut Path, out: &mut FieldSet) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (name, member) in map {
                path.push(Element::Field(name.clone()));
                walk_member(name, member, path, out);
                path.pop();
            }
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

fn walk_member(name: &str, value: &Value, path: &mut Path, out: &mut FieldSet) {
    match value {
        Value::Array(items) if is_keyed(name, items) => {
            for item in items {
                let Some(key) = key_of(item) else { continue };
                path.push(Element::Key(key));
                out.insert(path.clone());
                walk(item, path, out);
                path.pop();
            }
        }
        _ => walk(value, path, out),
    }
}

fn find_item<'a>(items: &'a [Value], key: &str) -> Option<&'a Value> {
    items
        .iter()
        .find(|item| key_of(item).as_deref() == Some(key))
}

/// The value at `path`, if the object has one.
pub fn value_at<'a>(object: &'a Value, path: &[Element]) -> Option<&'a Value> {
    let mut at = object;
    for element in path {
        at = match element {
            Element::Field(name) => at.as_object()?.get(name)?,
            Element::Key(key) => find_item(at.as_array()?, key)?,
        };
    }
    Some(at)
}

/// Removes the value at `path`, then the maps that removal left empty (up to, not including,
/// the top level).
fn remove_at(object: &mut Value, path: &[Element]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let Some(parent) = value_at_mut(object, parents) else {
        return;
    };
    match (last, parent) {
        (Element::Field(name), Value::Object(map)) => {
            map.remove(name);
        }
        (Element::Key(key), Value::Array(items)) => {
            items.retain(|item| key_of(item).as_deref() != Some(key.as_str()));
        }
        _ => return,
    }
    if parents.len() > 1 {
        let empty = match value_at(object, parents) {
            Some(Value::Object(map)) => map.is_empty(),
            _ => false,
        };
        if empty {
            remove_at(object, parents);
        }
    }
}

fn value_at_mut<'a>(object: &'a mut Value, path: &[Element]) -> Option<&'a mut Value> {
    let mut at = object;
    for element in path {
        at = match element {
            Element::Field(name) => at.as_object_mut()?.get_mut(name)?,
            Element::Key(key) => at
                .as_array_mut()?
                .iter_mut()
                .find(|item| key_of(item).as_deref() == Some(key.as_str()))?,
        };
    }
    Some(at)
}

/// Merges an applied configuration into an object: maps field by field, keyed lists item by
/// item (applied items first, in their order, then the others), anything else replaced.
fn merge(target: &mut Value, config: &Value, field: &str) {
    match (target, config) {
        (Value::Object(target), Value::Object(config)) => {
            for (name, value) in config {
                match target.get_mut(name) {
                    Some(existing) => merge(existing, value, name),
                    None => {
                        target.insert(name.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(target), Value::Array(config))
            if is_keyed(field, config) && (target.is_empty() || is_keyed(field, target)) =>
        {
            let mut merged = Vec::with_capacity(config.len().max(target.len()));
            for item in config {
                let key = key_of(item).unwrap_or_default();
                let mut next = find_item(target, &key).cloned().unwrap_or(Value::Null);
                if next.is_null() {
                    next = item.clone();
                } else {
                    merge(&mut next, item, "");
                }
                merged.push(next);
            }
            for item in target.iter() {
                let key = key_of(item).unwrap_or_default();
                if find_item(config, &key).is_none() {
                    merged.push(item.clone());
                }
            }
            *target = merged;
        }
        (target, config) => *target = config.clone(),
    }
}

/// One entry of `metadata.managedFields`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

impl Entry {
    fn is(&self, manager: &str, operation: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource.is_none()
    }

    /// How the apiserver names a manager in a conflict.
    pub fn printed(&self) -> String {
        let mut name = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            name.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == "Update" {
            name.push_str(&format!(" using {}", self.api_version));
            if !self.time.is_empty() {
                name.push_str(&format!(" at {}", self.time));
            }
        }
        name
    }

    fn to_json(&self) -> Value {
        let mut entry = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": encode(&self.fields),
        });
        if let Some(sub) = &self.subresource {
            entry["subresource"] = json!(sub);
        }
        entry
    }

    fn from_json(entry: &Value) -> Option<Entry> {
        Some(Entry {
            manager: entry["manager"].as_str()?.to_string(),
            operation: entry["operation"].as_str()?.to_string(),
            api_version: entry["apiVersion"].as_str().unwrap_or_default().to_string(),
            time: entry["time"].as_str().unwrap_or_default().to_string(),
            subresource: entry["subresource"].as_str().map(str::to_string),
            fields: decode(&entry["fieldsV1"]),
        })
    }
}

/// A field set in the `FieldsV1` format: `f:<field>`, `k:<key>`, and `.` for an item that is
/// owned itself and has owned fields inside.
pub fn encode(fields: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut node = &mut root;
        for element in path {
            let name = match element {
                Element::Field(name) => format!("f:{name}"),
                Element::Key(key) => format!("k:{key}"),
            };
            node = node
                .entry(name)
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("nodes are objects");
        }
    }
    fn mark(node: &mut Map<String, Value>, prefix: &mut Path, fields: &FieldSet) {
        for (name, child) in node.iter_mut() {
            let element = match name.split_once(':') {
                Some(("f", field)) => Element::Field(field.to_string()),
                Some(("k", key)) => Element::Key(key.to_string()),
                _ => continue,
            };
            prefix.push(element);
            if let Some(child) = child.as_object_mut() {
                if !child.is_empty() && fields.contains(prefix) {
                    child.insert(".".into(), json!({}));
                }
                mark(child, prefix, fields);
            }
            prefix.pop();
        }
    }
    mark(&mut root, &mut Vec::new(), fields);
    Value::Object(root)
}

pub fn decode(fields: &Value) -> FieldSet {
    fn visit(node: &Value, path: &mut Path, out: &mut FieldSet) {
        let Some(map) = node.as_object() else { return };
        for (name, child) in map {
            if name == "." {
                out.insert(path.clone());
                continue;
            }
            let element = match name.split_once(':') {
                Some(("f", field)) => Element::Field(field.to_string()),
                Some(("k", key)) => {
                    // Keys compare as canonical JSON.
                    let canonical = serde_json::from_str::<Value>(key)
                        .map(|k| k.to_string())
                        .unwrap_or_else(|_| key.to_string());
                    Element::Key(canonical)
                }
                _ => continue,
            };
            path.push(element);
            if child.as_object().is_none_or(|c| c.is_empty()) {
                out.insert(path.clone());
            } else {
                visit(child, path, out);
            }
            path.pop();
        }
    }
    let mut out = FieldSet::new();
    visit(fields, &mut Vec::new(), &mut out);
    out
}

pub fn entries(object: &Value) -> Vec<Entry> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|list| list.iter().filter_map(Entry::from_json).collect())
        .unwrap_or_default()
}

pub fn set_entries(object: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(Entry::to_json)
        .collect();
    if let Some(meta) = object["metadata"].as_object_mut() {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// After a write that no manager is named for (a controller the test plays): fields that are
/// gone are owned by nobody.
pub fn forget_removed(before: Option<&Value>, after: &mut Value, rt: &ResourceType) {
    let mut list = before.map(entries).unwrap_or_default();
    let present = fields_of(after, rt);
    for entry in &mut list {
        entry.fields.retain(|p| present.contains(p));
    }
    set_entries(after, &list);
}

/// After a create, update or patch by `manager`: it owns what it changed, nobody else does,
/// and fields that are gone are owned by nobody.
pub fn record_update(before: Option<&Value>, after: &mut Value, manager: &str, rt: &ResourceType) {
    let mut list = before.map(entries).unwrap_or_default();
    let present = fields_of(after, rt);
    let changed: FieldSet = present
        .iter()
        .filter(|path| match before {
            None => true,
            Some(before) => match path.last() {
                Some(Element::Key(_)) => value_at(before, path).is_none(),
                _ => value_at(before, path) != value_at(after, path),
            },
        })
        .cloned()
        .collect();
    for entry in &mut list {
        entry.fields.retain(|p| present.contains(p));
        if !entry.is(manager, "Update") {
            entry.fields.retain(|p| !changed.contains(p));
        }
    }
    if !changed.is_empty() {
        match list.iter_mut().find(|e| e.is(manager, "Update")) {
            Some(entry) => {
                entry.fields.extend(changed);
                entry.time = now();
                entry.api_version = rt.api_version();
            }
            None => list.push(Entry {
                manager: manager.to_string(),
                operation: "Update".into(),
                api_version: rt.api_version(),
                time: now(),
                subresource: None,
                fields: changed,
            }),
        }
    }
    set_entries(after, &list);
}

/// A field another manager owns that an apply would change.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub manager: String,
    pub path: Path,
}

/// Server-side apply of `config` by `manager` onto `live` (a new object's skeleton when
/// absent): the merged object with its `managedFields`, or the conflicts when not forced.
pub fn apply(
    live: &Value,
    config: &Value,
    manager: &str,
    force: bool,
    rt: &ResourceType,
) -> Result<Value, Vec<Conflict>> {
    let applied = fields_of(config, rt);
    let mut list = entries(live);
    let mut conflicts = Vec::new();
    for entry in list.iter().filter(|e| !e.is(manager, "Apply")) {
        for path in applied.intersection(&entry.fields) {
            if matches!(path.last(), Some(Element::Key(_))) {
                continue;
            }
            if let (Some(now), Some(wanted)) = (value_at(live, path), value_at(config, path)) {
                if now != wanted {
                    conflicts.push(Conflict {
                        manager: entry.printed(),
                        path: path.clone(),
                    });
                }
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    // Forced: the fields move to the applier.
    for entry in list.iter_mut().filter(|e| !e.is(manager, "Apply")) {
        for path in applied.iter() {
            let differs = value_at(live, path) != value_at(config, path);
            if differs && !matches!(path.last(), Some(Element::Key(_))) {
                entry.fields.remove(path);
            }
        }
    }
    let before: FieldSet = list
        .iter()
        .find(|e| e.is(manager, "Apply"))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let others: FieldSet = list
        .iter()
        .filter(|e| !e.is(manager, "Apply"))
        .flat_map(|e| e.fields.iter().cloned())
        .collect();

    let mut merged = live.clone();
    // What this manager applied before and no longer sends goes, unless someone else owns it
    // (an item stays while another manager owns a field inside it).
    let dropped: Vec<&Path> = before
        .iter()
        .filter(|p| !applied.contains(*p) && !others.contains(*p))
        .collect();
    for path in dropped {
        let owned_inside = others
            .iter()
            .any(|o| o.len() > path.len() && o.starts_with(path));
        if matches!(path.last(), Some(Element::Key(_))) && owned_inside {
            continue;
        }
        remove_at(&mut merged, path);
    }
    merge(&mut merged, config, "");

    let present = fields_of(&merged, rt);
    for entry in &mut list {
        entry.fields.retain(|p| present.contains(p));
    }
    match list.iter_mut().find(|e| e.is(manager, "Apply")) {
        Some(entry) => {
            if entry.fields != applied || entry.api_version != rt.api_version() {
                entry.time = now();
            }
            entry.fields = applied;
            entry.api_version = rt.api_version();
        }
        None => list.push(Entry {
            manager: manager.to_string(),
            operation: "Apply".into(),
            api_version: rt.api_version(),
            time: now(),
            subresource: None,
            fields: applied,
        }),
    }
    set_entries(&mut merged, &list);
    Ok(merged)
}

/// The apiserver's message for an apply that conflicts.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager,
            path_string(&only.path)
        );
    }
    let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
    managers.sort();
    managers.dedup();
    let mut lines = Vec::new();
    for manager in managers {
        lines.push(format!("conflicts with {manager}:"));
        for conflict in conflicts.iter().filter(|c| c.manager == manager) {
            lines.push(format!("- {}", path_string(&conflict.path)));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}
