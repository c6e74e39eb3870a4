//! Settings in `.env` reach every part of slipway, including those read by libraries that look
//! only at the process environment — above all `KUBECONFIG`, which decides which cluster
//! slipway builds on and deploys to.

mod support;

use std::path::Path;

use support::fake_kube::FakeKube;
use support::serve_process::ServeProcess;

fn kubeconfig_for(kube: &FakeKube, name: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
  - name: {name}
    cluster:
      server: {url}
users:
  - name: {name}
    user: {{}}
contexts:
  - name: {name}
    context:
      cluster: {name}
      user: {name}
current-context: {name}
",
        url = kube.url()
    )
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The operator names the cluster in `.env`; the user slipway runs as also has a kubeconfig
/// of its own, for another cluster. slipway must use the one `.env` names.
#[tokio::test]
async fn the_cluster_is_the_one_kubeconfig_in_the_env_file_names_not_the_home_one() {
    let named = FakeKube::builder()
        .namespace("slipway-builds")
        .start()
        .await;
    let home_cluster = FakeKube::builder()
        .namespace("slipway-builds")
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    write(
        &home.join(".kube/config"),
        &kubeconfig_for(&home_cluster, "home"),
    );
    let named_path = dir.path().join("clusters/production.yaml");
    write(&named_path, &kubeconfig_for(&named, "production"));
    write(
        &dir.path().join(".env"),
        &format!("KUBECONFIG={}\n", named_path.display()),
    );
    let database_url = format!("sqlite://{}", dir.path().join("slipway.db").display());
    let home_path = home.display().to_string();
    let process = ServeProcess::start(
        dir.path(),
        "077",
        &[("HOME", &home_path), ("DATABASE_URL", &database_url)],
    );

    let answer = reqwest::get(format!("{}/readyz", process.ops_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!answer.contains("cannot run"), "{answer}");
    assert!(
        named.requests("list", "jobs") >= 1,
        "the named cluster was asked: {answer}"
    );
    assert_eq!(
        home_cluster.requests("list", "jobs"),
        0,
        "the home kubeconfig's cluster was never asked"
    );
}

/// A `KUBECONFIG` that cannot be read never falls back to another cluster.
#[tokio::test]
async fn a_kubeconfig_the_env_file_names_that_is_missing_is_no_cluster_not_the_home_one() {
    let home_cluster = FakeKube::builder()
        .namespace("slipway-builds")
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    write(
        &home.join(".kube/config"),
        &kubeconfig_for(&home_cluster, "home"),
    );
    let missing = dir.path().join("clusters/missing.yaml");
    write(
        &dir.path().join(".env"),
        &format!("KUBECONFIG={}\n", missing.display()),
    );
    let database_url = format!("sqlite://{}", dir.path().join("slipway.db").display());
    let home_path = home.display().to_string();
    let process = ServeProcess::start(
        dir.path(),
        "077",
        &[("HOME", &home_path), ("DATABASE_URL", &database_url)],
    );

    let answer = reqwest::get(format!("{}/readyz", process.ops_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        answer.contains(&format!(
            "builds and deploys cannot run: KUBECONFIG {} cannot be used",
            missing.display()
        )),
        "{answer}"
    );
    assert_eq!(home_cluster.requests("list", "jobs"), 0);
}
