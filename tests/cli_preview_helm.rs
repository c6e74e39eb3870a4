//! `slipway preview` of Helm environments end to end: one chart, values per environment,
//! a vendored dependency, a Secret from a template, `lookup`, hooks, and a dependency that
//! would need a download.
//!
//! These tests need `helm` on PATH (tests/run installs it); they fail rather than skip
//! without it.

mod git_fixtures;

use git_fixtures::{assert_golden, slipway, Run, TestRepo};

const KEY: &str = "0101010101010101010101010101010101010101010101010101010101010101";
const PASSWORD_BASE: &str = "s3cr3t-base-value";
const PASSWORD_HEAD: &str = "s3cr3t-head-value";

const CONFIG: &str = "\
environments:
  dev:
    path: chart
    namespace: team-dev
    helm:
      values: [values/dev.yaml]
  prod:
    path: chart
    namespace: team-prod
    promote_from: dev
    helm:
      release: api
      values: [values/prod.yaml]
";

fn require_helm() {
    assert!(
        slipway::render::find_helm().is_some(),
        "`helm` is not on PATH: run the tests with tests/run, which installs it"
    );
}

/// A config repo whose chart (with a vendored `redis` dependency) serves dev and prod, each
/// with its own values file; returns it and its commit.
fn chart_repo() -> (TestRepo, String) {
    require_helm();
    let repo = TestRepo::new();
    repo.write(".github/slipway.yml", CONFIG)
        .write(
            "chart/Chart.yaml",
            "apiVersion: v2\nname: api\nversion: 0.1.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  repository: https://charts.example.com\n",
        )
        .write(
            "chart/values.yaml",
            "replicas: 1\nimage:\n  repository: registry.example.com/team/api\n  tag: \"1.0\"\nlogLevel: info\n",
        )
        .write(
            "chart/templates/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicas }}\n  template:\n    spec:\n      containers:\n      - name: api\n        image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n",
        )
        .write(
            "chart/templates/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  LOG_LEVEL: {{ .Values.logLevel }}\n",
        )
        .write(
            "chart/templates/secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}\nstringData:\n  password: {{ .Values.password }}\n",
        )
        .write(
            "chart/charts/redis/Chart.yaml",
            "apiVersion: v2\nname: redis\nversion: 1.0.0\n",
        )
        .write("chart/charts/redis/values.yaml", "port: 6379\n")
        .write(
            "chart/charts/redis/templates/service.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-redis\nspec:\n  ports:\n  - port: {{ .Values.port }}\n",
        )
        .write(
            "values/dev.yaml",
            &format!("image:\n  tag: \"1.0\"\npassword: {PASSWORD_BASE}\n"),
        )
        .write(
            "values/prod.yaml",
            &format!("replicas: 3\nimage:\n  tag: \"1.0\"\npassword: {PASSWORD_BASE}\n"),
        );
    let base = repo.commit("initial");
    (repo, base)
}

fn preview(repo: &TestRepo, base: &str, head: &str) -> Run {
    slipway(&[
        "preview",
        "--repo",
        repo.path().to_str().unwrap(),
        "--base",
        base,
        "--head",
        head,
        "--fingerprint-key",
        KEY,
    ])
}

/// The report with the commit ids (new in every run) replaced by `BASE` and `HEAD`.
fn stable(text: &str, repo: &TestRepo, base: &str, head: &str) -> String {
    text.replace(repo.path().to_str().unwrap(), "REPO")
        .replace(base, "BASE")
        .replace(head, "HEAD")
        .replace(&base[..12], "BASE")
        .replace(&head[..12], "HEAD")
        .replace(&base[..7], "BASE")
        .replace(&head[..7], "HEAD")
}

#[test]
fn a_values_change_of_one_environment_previews_its_rendered_objects_without_secrets() {
    let (repo, base) = chart_repo();
    repo.write(
        "values/prod.yaml",
        &format!("replicas: 3\nimage:\n  tag: \"1.1\"\npassword: {PASSWORD_HEAD}\n"),
    );
    let head = repo.commit("prod: 1.1 and a new password");
    let run = preview(&repo, &base, &head);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for output in [&run.stdout, &run.stderr] {
        assert!(!output.contains(PASSWORD_BASE) && !output.contains(PASSWORD_HEAD));
    }
    assert_golden(
        "preview_helm_values.md",
        &stable(&run.stdout, &repo, &base, &head),
    );
}

#[test]
fn a_chart_using_lookup_is_previewed_with_a_note() {
    let (repo, base) = chart_repo();
    repo.write(
        "chart/templates/configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  LOG_LEVEL: {{ .Values.logLevel }}\n  CLUSTER_INFO: {{ (lookup \"v1\" \"ConfigMap\" \"kube-public\" \"cluster-info\") | len | quote }}\n",
    );
    let head = repo.commit("read the cluster");
    let run = preview(&repo, &base, &head);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_golden(
        "preview_helm_lookup.md",
        &stable(&run.stdout, &repo, &base, &head),
    );
}

#[test]
fn a_hook_is_shown_and_refused() {
    let (repo, base) = chart_repo();
    repo.write(
        "chart/templates/migrate.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ .Release.Name }}-migrate\n  annotations:\n    helm.sh/hook: pre-upgrade\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: migrate\n        image: registry.example.com/team/migrate:1.0\n",
    );
    let head = repo.commit("a migration hook");
    let run = preview(&repo, &base, &head);
    assert_eq!(run.code, 1, "a hook would be refused at deploy");
    assert_eq!(
        run.stderr,
        "error: chart/templates/migrate.yaml:1: Job.batch team-dev/dev-migrate is a Helm hook (pre-upgrade); slipway applies manifests and does not run Helm's lifecycle, so hooks are refused at deploy\n\
         error: chart/templates/migrate.yaml:1: Job.batch team-prod/api-migrate is a Helm hook (pre-upgrade); slipway applies manifests and does not run Helm's lifecycle, so hooks are refused at deploy\n"
    );
    assert_golden(
        "preview_helm_hook.md",
        &stable(&run.stdout, &repo, &base, &head),
    );
}

#[test]
fn a_dependency_that_needs_a_download_is_refused_at_its_line() {
    let (repo, base) = chart_repo();
    repo.write(
        "chart/Chart.yaml",
        "apiVersion: v2\nname: api\nversion: 0.1.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  repository: https://charts.example.com\n- name: postgresql\n  version: 12.1.0\n  repository: oci://registry.example.com/charts\n",
    );
    let head = repo.commit("a dependency from a registry");
    let run = preview(&repo, &base, &head);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.lines().next().unwrap(),
        "error: environment `dev` at commit HEAD: chart/Chart.yaml:10:15: dependency `postgresql` is not vendored under `chart/charts/` and rendering it would need a download from `oci://registry.example.com/charts`; slipway never fetches charts: run `helm dependency build` and commit `charts/`"
            .replace("HEAD", &head[..12])
            .as_str(),
        "{}",
        run.stderr
    );
    assert_golden(
        "preview_helm_download.md",
        &stable(&run.stdout, &repo, &base, &head),
    );
}

#[test]
fn the_lookup_note_is_given_only_for_environments_whose_objects_change() {
    let (repo, _) = chart_repo();
    repo.write(
        "chart/templates/configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  CLUSTER_INFO: {{ (lookup \"v1\" \"ConfigMap\" \"kube-public\" \"cluster-info\") | len | quote }}\n",
    );
    let base = repo.commit("read the cluster");
    repo.write(
        "values/prod.yaml",
        &format!("replicas: 4\nimage:\n  tag: \"1.0\"\npassword: {PASSWORD_BASE}\n"),
    );
    let head = repo.commit("prod: 4 replicas");
    let run = preview(&repo, &base, &head);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(
            "The chart of environment `prod` calls `lookup` (`chart/templates/configmap.yaml`)"
        ),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("environment `dev` calls"),
        "{}",
        run.stdout
    );
}
