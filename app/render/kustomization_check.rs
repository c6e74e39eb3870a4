//! Every path and URL a kustomization names is judged before kustomize runs: inside the
//! repository or refused. kustomize's load restrictor covers the files of one kustomization
//! root, not the bases it loads, and it fetches remote resources and generator files itself;
//! a pull request's author must not be able to make slipway open a connection or read
//! anything outside the checkout (another repository's mirror, a key, a metadata endpoint).
//!
//! The walk starts at the environment's kustomization and follows every base, component and
//! plugin directory it names, each judged relative to its own directory.

use std::collections::BTreeSet;

use serde_json::Value;

use super::kustomize::kustomization_in;
use super::limits::RenderLimits;
use super::paths::{follow, resolve, Stop};
use super::source::{EntryKind, TreeSource};
use super::yaml::parse_stream_within;
use super::RenderError;
use crate::config::locate::{Locator, Seg};

/// What a field's entries name, and so how they are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A file or a directory holding a kustomization (resources, bases, components).
    Kustomization,
    /// A plugin configuration: a file, a kustomization directory, or inline YAML.
    Plugin,
    /// A file, or for patch lists inline YAML.
    File,
}

/// One path or URL named by a kustomization, with where it sits in the file.
#[derive(Debug, Clone, PartialEq)]
struct Named {
    at: Vec<Seg>,
    /// The path as kustomize reads it (a generator's `key=path` without `key=`).
    text: String,
    /// What the message calls it: `resource`, `base`, `generator file`, …
    noun: &'static str,
    role: Role,
}

/// Checks the kustomization `kustomization` in `dir` and every kustomization it reaches.
pub(crate) fn check_tree(
    source: &dyn TreeSource,
    dir: &str,
    kustomization: &str,
    limits: &RenderLimits,
) -> Result<(), RenderError> {
    let mut pending = vec![(dir.to_string(), kustomization.to_string())];
    let mut seen = BTreeSet::new();
    while let Some((dir, file)) = pending.pop() {
        if !seen.insert(dir.clone()) {
            continue;
        }
        for next in check_one(source, &dir, &file, limits)? {
            if let Some(file) = kustomization_in(source, &next)? {
                pending.push((next, file));
            }
        }
    }
    Ok(())
}

/// Checks one kustomization file; returns the in-repository directories it loads.
fn check_one(
    source: &dyn TreeSource,
    dir: &str,
    file: &str,
    limits: &RenderLimits,
) -> Result<Vec<String>, RenderError> {
    let real = match source.entry(file)? {
        Some(kind) => follow(source, file, kind)?,
        None => None,
    };
    let Some((real, EntryKind::File)) = real else {
        return Ok(Vec::new()); // kustomize reports what is wrong with it
    };
    let bytes = source.read_file(&real)?;
    let text = String::from_utf8_lossy(&bytes);
    let docs = parse_stream_within(&text, limits).map_err(|e| RenderError::At {
        file: file.to_string(),
        line: e.line,
        column: e.column,
        message: e.message,
    })?;
    let Some(doc) = docs.first() else {
        return Ok(Vec::new());
    };
    let locator = Locator::new(&text);
    let refuse = |named: &Named, message: String| {
        let position = locator.value(&named.at);
        RenderError::At {
            file: file.to_string(),
            line: position.line,
            column: position.column,
            message,
        }
    };
    let mut dirs = Vec::new();
    for named in named_paths(&doc.value) {
        if let Some(problem) = refusal_by_text(&named) {
            return Err(refuse(&named, problem));
        }
        match resolve(source, dir, &named.text) {
            Ok(Some((path, EntryKind::Dir))) if named.role != Role::File => dirs.push(path),
            Ok(Some(_)) => {}
            Ok(None) if looks_like_a_host(&named.text) => {
                return Err(refuse(&named, remote(&named)));
            }
            Ok(None) => {} // missing: kustomize says so, and has nothing to fetch
            Err(Stop::Source(err)) => return Err(err.into()),
            Err(Stop::Escapes(None)) => {
                return Err(refuse(
                    &named,
                    format!(
                        "{} `{}` leaves the repository; a kustomization may name only files inside it",
                        named.noun, named.text
                    ),
                ))
            }
            Err(Stop::Escapes(Some((link, target)))) => {
                return Err(refuse(
                    &named,
                    format!(
                        "{} `{}` goes through the symlink `{link}` -> `{target}`, which resolves outside the repository; refused",
                        named.noun, named.text
                    ),
                ))
            }
            Err(Stop::Loop) => {
                return Err(refuse(
                    &named,
                    format!(
                        "{} `{}` goes through a chain of too many symlinks (a loop?)",
                        named.noun, named.text
                    ),
                ))
            }
        }
    }
    Ok(dirs)
}

fn remote(named: &Named) -> String {
    format!(
        "remote {} `{}` is not allowed: slipway renders only what is in the repository",
        named.noun, named.text
    )
}

/// What is wrong with an entry whatever the tree holds: a URL or an absolute path.
fn refusal_by_text(named: &Named) -> Option<String> {
    let text = named.text.as_str();
    let lower = text.to_ascii_lowercase();
    // kustomize reads `scheme://`, go-getter's `git::…`, scp-like `git@host:…` and `gh:` as
    // remote; a `?ref=` or a `repo//dir` split only appear in remote targets.
    let remote_form = lower.contains("://")
        || lower.contains("::")
        || lower.starts_with("git@")
        || lower.starts_with("gh:")
        || text.contains('?');
    if remote_form {
        return Some(remote(named));
    }
    if text.starts_with('/') || text.starts_with('\\') || text.as_bytes().get(1) == Some(&b':') {
        return Some(format!(
            "{} `{text}` is an absolute path; a kustomization may name only files inside the repository",
            named.noun
        ));
    }
    None
}

/// `github.com/org/repo/dir`: kustomize tries such a path as a git repository on that host
/// when no file of that name exists.
fn looks_like_a_host(text: &str) -> bool {
    let mut parts = text.split('/');
    let first = parts.next().unwrap_or("");
    let labels: Vec<&str> = first.split('.').collect();
    let host_first = parts.next().is_some_and(|p| !p.is_empty())
        && labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    host_first || text.contains("//")
}

/// Every path or URL the kustomization `doc` names, in file order of its fields.
fn named_paths(doc: &Value) -> Vec<Named> {
    let mut out = Vec::new();
    let Some(map) = doc.as_object() else {
        return out;
    };
    let key = |k: &str| Seg::Key(k.to_string());
    let strings = |field: &str, noun: &'static str, role: Role, out: &mut Vec<Named>| {
        if let Some(items) = map.get(field).and_then(Value::as_array) {
            for (i, item) in items.iter().enumerate() {
                if let Some(text) = item.as_str() {
                    push(out, vec![key(field), Seg::Index(i)], text, noun, role);
                }
            }
        }
    };
    strings("resources", "resource", Role::Kustomization, &mut out);
    strings("bases", "base", Role::Kustomization, &mut out);
    strings("components", "component", Role::Kustomization, &mut out);
    strings("crds", "CRD file", Role::File, &mut out);
    strings("patchesStrategicMerge", "patch", Role::File, &mut out);
    strings("configurations", "configuration file", Role::File, &mut out);
    strings("transformers", "transformer", Role::Plugin, &mut out);
    strings("generators", "generator", Role::Plugin, &mut out);
    strings("validators", "validator", Role::Plugin, &mut out);
    for field in ["patches", "patchesJson6902", "replacements"] {
        let noun = if field == "replacements" {
            "replacement file"
        } else {
            "patch"
        };
        for (i, item) in list(map.get(field)).iter().enumerate() {
            if let Some(path) = item.get("path").and_then(Value::as_str) {
                let at = vec![key(field), Seg::Index(i), key("path")];
                push(&mut out, at, path, noun, Role::File);
            }
        }
    }
    if let Some(path) = map
        .get("openapi")
        .and_then(|o| o.get("path"))
        .and_then(Value::as_str)
    {
        push(
            &mut out,
            vec![key("openapi"), key("path")],
            path,
            "OpenAPI schema",
            Role::File,
        );
    }
    for field in ["configMapGenerator", "secretGenerator"] {
        for (g, generator) in list(map.get(field)).iter().enumerate() {
            for sub in ["files", "envs"] {
                for (i, item) in list(generator.get(sub)).iter().enumerate() {
                    let Some(text) = item.as_str() else { continue };
                    // `files` entries may be `key=path`; the key is not a path.
                    let path = match (sub, text.split_once('=')) {
                        ("files", Some((_, path))) => path,
                        _ => text,
                    };
                    let at = vec![key(field), Seg::Index(g), key(sub), Seg::Index(i)];
                    push(&mut out, at, path, "generator file", Role::File);
                }
            }
            if let Some(text) = generator.get("env").and_then(Value::as_str) {
                let at = vec![key(field), Seg::Index(g), key("env")];
                push(&mut out, at, text, "generator file", Role::File);
            }
        }
    }
    out
}

fn list(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn push(out: &mut Vec<Named>, at: Vec<Seg>, text: &str, noun: &'static str, role: Role) {
    // Patch lists and plugin lists may hold inline YAML instead of a path.
    let inline = role != Role::Kustomization && text.contains('\n');
    if !text.trim().is_empty() && !inline {
        out.push(Named {
            at,
            text: text.trim().to_string(),
            noun,
            role,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(doc: Value) -> Vec<(String, &'static str)> {
        named_paths(&doc)
            .into_iter()
            .map(|n| (n.text, n.noun))
            .collect()
    }

    #[test]
    fn every_field_that_names_a_path_is_collected() {
        let doc = json!({
            "resources": ["a.yaml"], "bases": ["../b"], "components": ["c"], "crds": ["crd.yaml"],
            "patchesStrategicMerge": ["p.yaml", "apiVersion: v1\nkind: X\n"],
            "patches": [{"path": "p2.yaml"}, {"patch": "inline"}],
            "patchesJson6902": [{"path": "j.yaml"}], "replacements": [{"path": "r.yaml"}],
            "openapi": {"path": "schema.json"}, "configurations": ["conf.yaml"],
            "transformers": ["t.yaml"], "generators": ["g"], "validators": ["v.yaml"],
            "configMapGenerator": [{"files": ["key=f.txt", "g.txt"], "envs": ["e.env"], "env": "old.env"}],
            "secretGenerator": [{"files": ["s.txt"]}],
        });
        let found: Vec<String> = texts(doc).into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            found,
            [
                "a.yaml",
                "../b",
                "c",
                "crd.yaml",
                "p.yaml",
                "conf.yaml",
                "t.yaml",
                "g",
                "v.yaml",
                "p2.yaml",
                "j.yaml",
                "r.yaml",
                "schema.json",
                "f.txt",
                "g.txt",
                "e.env",
                "old.env",
                "s.txt"
            ]
        );
    }

    #[test]
    fn remote_forms_are_recognised_by_their_text() {
        let named = |text: &str| Named {
            at: Vec::new(),
            text: text.to_string(),
            noun: "resource",
            role: Role::Kustomization,
        };
        for text in [
            "https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1",
            "file:///srv/mirrors/other.git//envs/prod?ref=HEAD",
            "git::https://example.com/repo.git",
            "git@github.com:org/repo.git/envs",
            "gh:org/repo",
            "ssh://git@example.com/repo",
        ] {
            let problem = refusal_by_text(&named(text)).unwrap_or_default();
            assert!(problem.starts_with("remote resource"), "{text}: {problem}");
        }
        assert!(refusal_by_text(&named("/etc/passwd"))
            .is_some_and(|p| p.contains("is an absolute path")));
        assert_eq!(refusal_by_text(&named("../../base")), None);
        assert!(looks_like_a_host("github.com/org/repo/envs"));
        assert!(!looks_like_a_host("missing.yaml"));
        assert!(!looks_like_a_host("../base"));
        assert!(!looks_like_a_host("base/deploy.yaml"));
    }
}
