//! Discovery documents, from the resource table: `/version`, `/api`, `/api/v1`, `/apis`,
//! `/apis/{group}` and `/apis/{group}/{version}`.

use serde_json::{json, Value};

use super::resources::{self, ResourceType, VERBS};

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-12-11T17:59:15Z",
        "goVersion": "go1.23.3",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group(name: &str, version: &str) -> Value {
    let group_version = json!({"groupVersion": format!("{name}/{version}"), "version": version});
    json!({"name": name, "versions": [group_version.clone()], "preferredVersion": group_version})
}

pub fn group_list(types: &[&'static ResourceType]) -> Value {
    let groups: Vec<Value> = resources::groups(types)
        .into_iter()
        .map(|(name, version)| group(name, version))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn api_group(types: &[&'static ResourceType], name: &str) -> Option<Value> {
    let (name, version) = resources::groups(types)
        .into_iter()
        .find(|(group, _)| *group == name)?;
    let mut document = group(name, version);
    document["kind"] = json!("APIGroup");
    document["apiVersion"] = json!("v1");
    Some(document)
}

/// The `APIResourceList` of one group version, subresources included.
pub fn resource_list(types: &[&'static ResourceType], group: &str, version: &str) -> Option<Value> {
    let mut listed = Vec::new();
    for rt in types
        .iter()
        .filter(|rt| rt.group == group && rt.version == version)
    {
        listed.push(json!({
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": VERBS,
            "shortNames": rt.short_names,
        }));
        for sub in rt.subresources() {
            let verbs: &[&str] = if sub == "log" {
                &["get"]
            } else {
                &["get", "patch", "update"]
            };
            listed.push(json!({
                "name": format!("{}/{sub}", rt.plural),
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": verbs,
            }));
        }
    }
    if listed.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": listed}),
    )
}
