//! A pull request's render reaches nothing outside its repository: every path or URL a
//! kustomization names is judged before kustomize runs, and symlinks are judged by where
//! they resolve. Refusals need no kustomize; the scenarios that build do.

mod git_fixtures;

use std::net::TcpListener;

use git_fixtures::{config_yaml, kustomize_available, TestRepo};
use slipway::config::{parse_config_repo, Environment};
use slipway::git::LocalRepo;
use slipway::render::{render_environment, K8sObject, RenderError};

fn env(path: &str) -> Environment {
    let config = parse_config_repo(&config_yaml(&[("dev", path, None)])).unwrap();
    config.environments["dev"].clone()
}

fn render_head(repo: &TestRepo, path: &str) -> Result<Vec<K8sObject>, RenderError> {
    repo.commit("render me");
    let tree = LocalRepo::open(repo.path())
        .unwrap()
        .tree_at("HEAD")
        .unwrap();
    render_environment(&tree, &env(path))
}

/// A loopback server that only counts who connected; nothing is ever answered.
struct Listener(TcpListener);

impl Listener {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Listener(listener)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.0.local_addr().unwrap())
    }

    /// Connections made so far (the kernel completes them into the backlog unanswered).
    fn connections(&self) -> usize {
        std::iter::from_fn(|| self.0.accept().ok()).count()
    }
}

const HEADER: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n";

fn base(repo: &TestRepo) -> &TestRepo {
    repo.write("base/kustomization.yaml", "resources:\n- cm.yaml\n")
        .write(
            "base/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
        )
}

#[test]
fn a_remote_resource_is_refused_with_its_position_before_anything_is_fetched() {
    let server = Listener::start();
    let repo = TestRepo::new();
    let url = server.url("kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1");
    base(&repo).write(
        "envs/dev/kustomization.yaml",
        &format!("{HEADER}resources:\n  - ../../base\n  - {url}\n"),
    );
    let err = render_head(&repo, "envs/dev").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "envs/dev/kustomization.yaml:5:5: remote resource `{url}` is not allowed: slipway renders only what is in the repository"
        )
    );
    assert_eq!(server.connections(), 0);
}

#[test]
fn a_github_resource_without_a_scheme_is_refused_as_remote() {
    let repo = TestRepo::new();
    repo.write(
        "envs/dev/kustomization.yaml",
        "resources:\n- github.com/kubernetes-sigs/kustomize/examples/helloWorld\n",
    );
    let err = render_head(&repo, "envs/dev").unwrap_err();
    assert_eq!(
        err.to_string(),
        "envs/dev/kustomization.yaml:2:3: remote resource `github.com/kubernetes-sigs/kustomize/examples/helloWorld` is not allowed: slipway renders only what is in the repository"
    );
}

#[test]
fn another_repository_on_the_same_host_is_refused_as_a_file_url() {
    let other = TestRepo::new();
    other.write(
        "envs/prod/kustomization.yaml",
        "resources:\n- secret.yaml\n",
    );
    other.commit("someone else's config");
    let url = format!(
        "file://{}//envs/prod?ref=HEAD",
        other.path().join(".git").display()
    );
    let repo = TestRepo::new();
    repo.write("envs/dev/kustomization.yaml", &format!("bases:\n- {url}\n"));
    let err = render_head(&repo, "envs/dev").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("envs/dev/kustomization.yaml:2:3: remote base `{url}` is not allowed: slipway renders only what is in the repository")
    );
}

#[test]
fn a_remote_generator_file_is_refused_and_never_fetched() {
    let server = Listener::start();
    let url = server.url("latest/meta-data/iam/security-credentials/token");
    let repo = TestRepo::new();
    repo.write(
        "envs/dev/kustomization.yaml",
        &format!("configMapGenerator:\n- name: leak\n  files:\n  - token={url}\n"),
    );
    let err = render_head(&repo, "envs/dev").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("envs/dev/kustomization.yaml:4:5: remote generator file `{url}` is not allowed: slipway renders only what is in the repository")
    );
    assert_eq!(server.connections(), 0);
}

#[test]
fn a_remote_component_in_a_base_is_refused_at_the_base() {
    let repo = TestRepo::new();
    base(&repo)
        .write(
            "base/kustomization.yaml",
            "resources:\n- cm.yaml\ncomponents:\n- ssh://git@example.com/org/components.git\n",
        )
        .write("envs/dev/kustomization.yaml", "resources:\n- ../../base\n");
    let err = render_head(&repo, "envs/dev").unwrap_err();
    assert_eq!(
        err.to_string(),
        "base/kustomization.yaml:4:3: remote component `ssh://git@example.com/org/components.git` is not allowed: slipway renders only what is in the repository"
    );
}

#[test]
fn an_absolute_base_is_refused() {
    let repo = TestRepo::new();
    repo.write(
        "envs/dev/kustomization.yaml",
        "resources:\n- /srv/mirrors/other/envs/prod\n",
    );
    let err = render_head(&repo, "envs/dev").unwrap_err();
    assert_eq!(
        err.to_string(),
        "envs/dev/kustomization.yaml:2:3: resource `/srv/mirrors/other/envs/prod` is an absolute path; a kustomization may name only files inside the repository"
    );
}

#[test]
fn a_base_above_the_repository_is_refused() {
    let repo = TestRepo::new();
    repo.write(
        "envs/dev/kustomization.yaml",
        "resources:\n- ../../../other-checkout/envs/prod\n",
    );
    let err = render_head(&repo, "envs/dev").unwrap_err();
    assert_eq!(
        err.to_string(),
        "envs/dev/kustomization.yaml:2:3: resource `../../../other-checkout/envs/prod` leaves the repository; a kustomization may name only files inside it"
    );
}

#[test]
fn every_file_field_is_checked_patches_replacements_openapi_and_env_files() {
    let cases = [
        (
            "patches:\n- path: /etc/hostname\n",
            "2:9: patch `/etc/hostname`",
        ),
        (
            "patchesStrategicMerge:\n- ../../../p.yaml\n",
            "2:3: patch `../../../p.yaml`",
        ),
        (
            "patchesJson6902:\n- target: {kind: X}\n  path: /etc/hostname\n",
            "3:9: patch `/etc/hostname`",
        ),
        (
            "replacements:\n- path: /etc/hostname\n",
            "2:9: replacement file `/etc/hostname`",
        ),
        (
            "openapi:\n  path: /etc/hostname\n",
            "2:9: OpenAPI schema `/etc/hostname`",
        ),
        (
            "secretGenerator:\n- name: s\n  envs:\n  - /etc/hostname\n",
            "4:5: generator file `/etc/hostname`",
        ),
        (
            "configMapGenerator:\n- name: c\n  env: /etc/hostname\n",
            "3:8: generator file `/etc/hostname`",
        ),
        ("crds:\n- /etc/hostname\n", "2:3: CRD file `/etc/hostname`"),
        (
            "configurations:\n- /etc/hostname\n",
            "2:3: configuration file `/etc/hostname`",
        ),
        (
            "transformers:\n- /etc/hostname\n",
            "2:3: transformer `/etc/hostname`",
        ),
        (
            "generators:\n- https://example.com/gen.yaml\n",
            "2:3: remote generator `https://example.com/gen.yaml`",
        ),
        (
            "validators:\n- /etc/hostname\n",
            "2:3: validator `/etc/hostname`",
        ),
    ];
    for (kustomization, expected) in cases {
        let repo = TestRepo::new();
        repo.write("envs/dev/kustomization.yaml", kustomization);
        let message = render_head(&repo, "envs/dev").unwrap_err().to_string();
        assert!(
            message.starts_with(&format!("envs/dev/kustomization.yaml:{expected}")),
            "{kustomization}: {message}"
        );
    }
}

#[test]
fn a_symlink_to_the_apps_private_key_is_refused_where_a_generator_names_it() {
    let secrets = tempfile::tempdir().unwrap();
    let key = secrets.path().join("private-key.pem");
    std::fs::write(&key, "-----BEGIN RSA PRIVATE KEY-----\n").unwrap();
    let repo = TestRepo::new();
    base(&repo)
        .write(
            "base/kustomization.yaml",
            "resources:\n- cm.yaml\nsecretGenerator:\n- name: key\n  files:\n  - key.pem\n",
        )
        .symlink("base/key.pem", key.to_str().unwrap())
        .write("envs/dev/kustomization.yaml", "resources:\n- ../../base\n");
    let err = render_head(&repo, "envs/dev").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "base/kustomization.yaml:6:5: generator file `key.pem` goes through the symlink `base/key.pem` -> `{}`, which resolves outside the repository; refused",
            key.display()
        )
    );
}

/// `a/b/c/d/e/f/g/h/up` points seven levels up, to `a`; a link through it and eight `..`
/// reads as `a/etc/passwd` but lands on `/etc/passwd`.
fn chained_escape(repo: &TestRepo, link: &str) -> String {
    repo.symlink("a/b/c/d/e/f/g/h/up", "../../../../../../..")
        .write("a/b/c/d/e/f/g/h/keep", "so the directories exist\n");
    let target = "../../a/b/c/d/e/f/g/h/up/../../../../../../../../etc/passwd";
    repo.symlink(link, target);
    target.to_string()
}

#[test]
fn a_symlink_through_another_symlink_is_judged_where_it_resolves() {
    let repo = TestRepo::new();
    let target = chained_escape(&repo, "envs/k/esc");
    repo.write(
        "envs/k/kustomization.yaml",
        "configMapGenerator:\n- name: passwd\n  files:\n  - esc\n",
    );
    let err = render_head(&repo, "envs/k").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("envs/k/kustomization.yaml:4:5: generator file `esc` goes through the symlink `envs/k/esc` -> `{target}`, which resolves outside the repository; refused")
    );
}

#[test]
fn a_plain_manifest_symlinked_through_another_symlink_out_of_the_tree_is_refused() {
    let repo = TestRepo::new();
    let target = chained_escape(&repo, "envs/k/esc.yaml");
    let err = render_head(&repo, "envs/k").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("envs/k/esc.yaml: symlink to `{target}` points outside the repository; refused")
    );
}

#[test]
fn a_shared_base_in_the_repository_still_builds() {
    if !kustomize_available("a_shared_base_in_the_repository_still_builds") {
        return;
    }
    let repo = TestRepo::new();
    base(&repo)
        .write("base/app.env", "LEVEL=info\n")
        .write(
            "base/kustomization.yaml",
            "resources:\n- cm.yaml\nconfigMapGenerator:\n- name: app\n  envs:\n  - app.env\n  options: {disableNameSuffixHash: true}\n",
        )
        .write(
            "envs/dev/kustomization.yaml",
            "resources:\n- ../../base\nnamePrefix: dev-\n",
        );
    let objects = render_head(&repo, "envs/dev").unwrap();
    let names: Vec<&str> = objects.iter().map(K8sObject::name).collect();
    assert_eq!(names, ["dev-app", "dev-settings"]);
    assert_eq!(objects[0].value["data"]["LEVEL"], "info");
}
