//! Object-level diff of two renders of one environment.
//!
//! Objects are matched by (API group, kind, namespace, name). Before anything is compared
//! each object is normalised ([`normalise`]) and, if it is a core `Secret`, redacted
//! ([`redact`]): a Secret's values never reach a diff, a YAML text or a serialised result.
//! Pure: no I/O, except [`compare`], which reads both sides from a local repository.

pub mod compare;
pub mod normalise;
pub mod redact;

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use similar::TextDiff;

use crate::render::K8sObject;
pub use redact::FingerprintKey;

/// Lines of context around each change in a unified diff.
pub const CONTEXT_LINES: usize = 3;

/// The identity objects are matched by. Ordered by namespace, kind, name (then group), the
/// order every diff is presented in; cluster-scoped objects (empty namespace) come first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ObjectId {
    /// API group; empty for the core group.
    pub group: String,
    pub kind: String,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

impl ObjectId {
    /// The identity of a rendered object.
    pub fn of(object: &K8sObject) -> ObjectId {
        ObjectId {
            group: object.api_group().to_owned(),
            kind: object.kind().to_owned(),
            namespace: object.namespace().unwrap_or("").to_owned(),
            name: object.name().to_owned(),
        }
    }
}

impl Ord for ObjectId {
    fn cmp(&self, other: &Self) -> Ordering {
        (&self.namespace, &self.kind, &self.name, &self.group).cmp(&(
            &other.namespace,
            &other.kind,
            &other.name,
            &other.group,
        ))
    }
}

impl PartialOrd for ObjectId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.kind)?;
        } else {
            write!(f, "{}.{}", self.kind, self.group)?;
        }
        if self.namespace.is_empty() {
            write!(f, " {}", self.name)
        } else {
            write!(f, " {}/{}", self.namespace, self.name)
        }
    }
}

/// What happened to one object between base and head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Changed,
    Unchanged,
}

/// Where a rendered object came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub file: String,
    pub line: usize,
}

/// One object's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectDiff {
    #[serde(flatten)]
    pub id: ObjectId,
    pub change: Change,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<Source>,
    /// Unified diff of the normalised, redacted YAML (hunks only, no file header);
    /// every line `+` for an added object, `-` for a removed one; `None` when unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// The normalised, redacted YAML of an added (head) or removed (base) object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yaml: Option<String>,
}

/// Counts of one kind's outcomes in one environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KindSummary {
    pub kind: String,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
}

/// The diff of one environment between two revisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentDiff {
    pub environment: String,
    /// Per kind, in kind order.
    pub summary: Vec<KindSummary>,
    /// Every object of both sides, unchanged ones included, in (namespace, kind, name) order.
    pub objects: Vec<ObjectDiff>,
}

impl EnvironmentDiff {
    /// Whether any object was added, removed or changed.
    pub fn has_changes(&self) -> bool {
        self.objects.iter().any(|o| o.change != Change::Unchanged)
    }

    /// The added, removed and changed objects, in order.
    pub fn changes(&self) -> impl Iterator<Item = &ObjectDiff> {
        self.objects
            .iter()
            .filter(|o| o.change != Change::Unchanged)
    }
}

/// Diff the objects of one environment rendered at base and at head.
///
/// If a side holds the same identity twice (a render that should have been refused), the
/// occurrences are matched in order, so none is dropped. Secret values become fingerprints
/// made with `key`: use one key for both sides, so an unchanged value stays unchanged.
pub fn diff_environment(
    environment: &str,
    base: &[K8sObject],
    head: &[K8sObject],
    key: &FingerprintKey,
) -> EnvironmentDiff {
    let mut sides: BTreeMap<(ObjectId, usize), (Option<Prepared>, Option<Prepared>)> =
        BTreeMap::new();
    for (objects, is_base) in [(base, true), (head, false)] {
        let mut seen: BTreeMap<ObjectId, usize> = BTreeMap::new();
        for object in objects {
            let id = ObjectId::of(object);
            let prepared = Prepared::from(object, key);
            let occurrence = seen.entry(id.clone()).or_insert(0);
            let slot = sides.entry((id, *occurrence)).or_default();
            *occurrence += 1;
            if is_base {
                slot.0 = Some(prepared);
            } else {
                slot.1 = Some(prepared);
            }
        }
    }

    let mut objects = Vec::with_capacity(sides.len());
    for ((id, _), (before, after)) in sides {
        objects.push(compare(id, before, after));
    }
    let summary = summarise(&objects);
    EnvironmentDiff {
        environment: environment.to_owned(),
        summary,
        objects,
    }
}

/// An object normalised and redacted, ready to compare.
struct Prepared {
    value: Value,
    source: Source,
}

impl Prepared {
    fn from(object: &K8sObject, key: &FingerprintKey) -> Prepared {
        let mut value = object.value.clone();
        redact::redact(&mut value, key);
        normalise::normalise(&mut value);
        Prepared {
            value,
            source: Source {
                file: object.file.clone(),
                line: object.line,
            },
        }
    }

    fn yaml(&self) -> String {
        to_yaml(&self.value)
    }
}

fn compare(id: ObjectId, before: Option<Prepared>, after: Option<Prepared>) -> ObjectDiff {
    let (change, diff, yaml) = match (&before, &after) {
        (Some(old), Some(new)) if old.value == new.value => (Change::Unchanged, None, None),
        (Some(old), Some(new)) => (
            Change::Changed,
            Some(unified(&old.yaml(), &new.yaml())),
            None,
        ),
        (None, Some(new)) => {
            let yaml = new.yaml();
            (Change::Added, Some(unified("", &yaml)), Some(yaml))
        }
        (Some(old), None) => {
            let yaml = old.yaml();
            (Change::Removed, Some(unified(&yaml, "")), Some(yaml))
        }
        (None, None) => unreachable!("an object is on at least one side"),
    };
    ObjectDiff {
        id,
        change,
        base: before.map(|p| p.source),
        head: after.map(|p| p.source),
        diff,
        yaml,
    }
}

/// YAML of a normalised object (keys already sorted), written as `slipway render` writes it:
/// a string that YAML 1.1 would read as something else is quoted.
fn to_yaml(value: &Value) -> String {
    crate::render::to_yaml(value)
}

/// A unified diff (hunks only) with [`CONTEXT_LINES`] lines of context.
fn unified(old: &str, new: &str) -> String {
    let mut out = TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(CONTEXT_LINES)
        .to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn summarise(objects: &[ObjectDiff]) -> Vec<KindSummary> {
    let mut by_kind: BTreeMap<&str, KindSummary> = BTreeMap::new();
    for object in objects {
        let entry = by_kind
            .entry(&object.id.kind)
            .or_insert_with(|| KindSummary {
                kind: object.id.kind.clone(),
                ..KindSummary::default()
            });
        match object.change {
            Change::Added => entry.added += 1,
            Change::Removed => entry.removed += 1,
            Change::Changed => entry.changed += 1,
            Change::Unchanged => entry.unchanged += 1,
        }
    }
    by_kind.into_values().collect()
}
