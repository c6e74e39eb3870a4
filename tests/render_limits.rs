//! Rendering work is bounded: alias expansion, nesting, document count and rendered bytes
//! each stop a render with an error naming the file and the limit.

mod git_fixtures;

use git_fixtures::{config_yaml, kustomize_available, TestRepo};
use slipway::config::{parse_config_repo, Environment};
use slipway::git::LocalRepo;
use slipway::render::{
    render_environment, render_environment_with, K8sObject, RenderError, RenderLimits,
    RenderOptions,
};

fn env(path: &str) -> Environment {
    let config = parse_config_repo(&config_yaml(&[("dev", path, None)])).unwrap();
    config.environments["dev"].clone()
}

fn render_with(repo: &TestRepo, limits: RenderLimits) -> Result<Vec<K8sObject>, RenderError> {
    repo.commit("render me");
    let tree = LocalRepo::open(repo.path())
        .unwrap()
        .tree_at("HEAD")
        .unwrap();
    let options = RenderOptions {
        limits,
        ..RenderOptions::default()
    };
    render_environment_with(&tree, &env("envs/dev"), &options)
}

fn configmaps(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {n}\n"))
        .collect::<Vec<_>>()
        .join("---\n")
}

#[test]
fn the_defaults_are_the_documented_values() {
    let limits = RenderLimits::default();
    assert_eq!(limits.max_output_bytes, 64 * 1024 * 1024);
    assert_eq!(limits.max_rendered_bytes, 64 * 1024 * 1024);
    assert_eq!(limits.max_documents, 10_000);
    assert_eq!(limits.max_depth, 128);
    assert_eq!(limits.max_alias_values, 1_000_000);
}

#[test]
fn a_billion_laughs_document_is_stopped_at_the_alias_that_crosses_the_limit() {
    let repo = TestRepo::new();
    let mut text = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\nlol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..10 {
        let prev = format!("*l{}", i - 1);
        text.push_str(&format!(
            "lol{i}: &l{i} [{}]\n",
            [prev.as_str(); 10].join(", ")
        ));
    }
    repo.write("envs/dev/lol.yaml", &text);
    repo.commit("laughs");
    let tree = LocalRepo::open(repo.path())
        .unwrap()
        .tree_at("HEAD")
        .unwrap();
    let err = render_environment(&tree, &env("envs/dev")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "envs/dev/lol.yaml:10:47: aliases expand to more than 1000000 values, the limit of one file"
    );
}

#[test]
fn nesting_beyond_the_limit_is_refused_where_it_happens() {
    let repo = TestRepo::new();
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    repo.write(
        "envs/dev/deep.yaml",
        &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata: {deep}\n"),
    );
    let err = render_with(&repo, RenderLimits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "envs/dev/deep.yaml:5:134: nested more than 128 levels deep, the limit of one document"
    );
}

#[test]
fn more_documents_than_the_limit_stop_the_render() {
    let repo = TestRepo::new();
    repo.write("envs/dev/a.yaml", &configmaps(&["a", "b"]))
        .write("envs/dev/b.yaml", &configmaps(&["c", "d"]));
    let limits = RenderLimits {
        max_documents: 3,
        ..RenderLimits::default()
    };
    let err = render_with(&repo, limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "envs/dev/b.yaml: rendering stopped: the number of objects in `envs/dev` is over the limit of 3 objects"
    );
}

#[test]
fn more_documents_than_the_limit_in_one_file_stop_its_parse() {
    let repo = TestRepo::new();
    repo.write("envs/dev/a.yaml", &configmaps(&["a", "b", "c", "d"]));
    let limits = RenderLimits {
        max_documents: 3,
        ..RenderLimits::default()
    };
    let err = render_with(&repo, limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "envs/dev/a.yaml:16:1: more than 3 documents, the limit of one render"
    );
}

#[test]
fn manifests_larger_than_the_limit_together_stop_the_render() {
    let repo = TestRepo::new();
    repo.write("envs/dev/a.yaml", &configmaps(&["a"]))
        .write("envs/dev/b.yaml", &configmaps(&["b"]));
    let limits = RenderLimits {
        max_rendered_bytes: 80,
        ..RenderLimits::default()
    };
    let err = render_with(&repo, limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "envs/dev/b.yaml: rendering stopped: the size of the manifests of `envs/dev` up to this file is over the limit of 80 bytes"
    );
}

#[test]
fn kustomize_rendering_more_objects_than_the_limit_is_stopped() {
    if !kustomize_available("kustomize_rendering_more_objects_than_the_limit_is_stopped") {
        return;
    }
    let repo = TestRepo::new();
    repo.write("envs/dev/cms.yaml", &configmaps(&["a", "b", "c"]))
        .write("envs/dev/kustomization.yaml", "resources:\n- cms.yaml\n");
    let limits = RenderLimits {
        max_documents: 2,
        ..RenderLimits::default()
    };
    let err = render_with(&repo, limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "envs/dev/kustomization.yaml:1:1: kustomize's output (line 11, column 1): more than 2 documents, the limit of one render"
    );
}
