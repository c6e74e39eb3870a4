//! Helm environments: a directory holding a `Chart.yaml` is rendered with `helm template`
//! from git objects, with vendored dependencies only and nothing to reach.
//!
//! These tests need `helm` on PATH (tests/run installs it); they fail rather than skip
//! without it.

mod git_fixtures;

use git_fixtures::TestRepo;
use slipway::config::{parse_config_repo, Environment};
use slipway::git::LocalRepo;
use slipway::render::{find_helm, render_environment, K8sObject, RenderError};

fn require_helm() {
    assert!(
        find_helm().is_some(),
        "`helm` is not on PATH: run the tests with tests/run, which installs it"
    );
}

/// The environment `name` of a config file with `environments:` text `envs`.
fn env(envs: &str, name: &str) -> Environment {
    let config = parse_config_repo(&format!("environments:\n{envs}")).unwrap();
    config.environments[name].clone()
}

fn render_head(repo: &TestRepo, env: &Environment) -> Result<Vec<K8sObject>, RenderError> {
    require_helm();
    let tree = LocalRepo::open(repo.path())
        .unwrap()
        .tree_at("HEAD")
        .unwrap();
    render_environment(&tree, env)
}

const CHART: &str = "apiVersion: v2\nname: api\nversion: 0.1.0\n";

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-api
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      containers:
      - name: api
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"#;

/// A chart shared by two environments, each with its own values file.
fn chart_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("chart/Chart.yaml", CHART)
        .write(
            "chart/values.yaml",
            "replicas: 1\nimage:\n  repository: registry.example.com/api\n  tag: v1\n",
        )
        .write("chart/templates/deployment.yaml", DEPLOYMENT)
        .write(
            "chart/templates/service.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-api\nspec:\n  ports:\n  - port: 80\n",
        )
        .write("values/prod.yaml", "replicas: 3\nimage:\n  tag: v2\n");
    repo.commit("chart");
    repo
}

const TWO_ENVS: &str = "  dev:\n    path: chart\n    namespace: team-dev\n  prod:\n    path: chart\n    namespace: team-prod\n    helm:\n      release: api\n      values: [chart/values.yaml, values/prod.yaml]\n";

#[test]
fn each_environment_renders_the_chart_with_its_own_values() {
    let repo = chart_repo();
    let dev = render_head(&repo, &env(TWO_ENVS, "dev")).unwrap();
    let prod = render_head(&repo, &env(TWO_ENVS, "prod")).unwrap();
    let shown = |objects: &[K8sObject]| -> Vec<String> {
        objects
            .iter()
            .map(|o| format!("{} {}", o.key(), o.file))
            .collect()
    };
    // Helm's install order: Services before Deployments.
    assert_eq!(
        shown(&dev),
        [
            "Service team-dev/dev-api chart/templates/service.yaml",
            "Deployment.apps team-dev/dev-api chart/templates/deployment.yaml",
        ]
    );
    assert_eq!(
        shown(&prod),
        [
            "Service team-prod/api-api chart/templates/service.yaml",
            "Deployment.apps team-prod/api-api chart/templates/deployment.yaml",
        ]
    );
    assert_eq!(dev[1].value["spec"]["replicas"], 1);
    assert_eq!(prod[1].value["spec"]["replicas"], 3);
    assert_eq!(
        prod[1].value["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/api:v2"
    );
}

#[test]
fn set_values_are_taken_literally() {
    let repo = chart_repo();
    let envs =
        "  dev:\n    path: chart\n    helm:\n      set:\n        image.tag: \"v3,replicas=9\"\n";
    let objects = render_head(&repo, &env(envs, "dev")).unwrap();
    assert_eq!(
        objects[1].value["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/api:v3,replicas=9"
    );
    assert_eq!(objects[1].value["spec"]["replicas"], 1);
}

#[test]
fn a_dependency_vendored_under_charts_is_rendered() {
    let repo = TestRepo::new();
    repo.write(
        "envs/dev/Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  repository: https://charts.example.com\n",
    )
    .write("envs/dev/values.yaml", "redis:\n  port: 6380\n")
    .write(
        "envs/dev/charts/redis/Chart.yaml",
        "apiVersion: v2\nname: redis\nversion: 1.0.0\n",
    )
    .write("envs/dev/charts/redis/values.yaml", "port: 6379\n")
    .write(
        "envs/dev/charts/redis/templates/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: redis\nspec:\n  ports:\n  - port: {{ .Values.port }}\n",
    );
    repo.commit("vendored");
    let objects = render_head(&repo, &env("  dev:\n    path: envs/dev\n", "dev")).unwrap();
    assert_eq!(objects.len(), 1);
    assert_eq!(
        objects[0].file,
        "envs/dev/charts/redis/templates/service.yaml"
    );
    assert_eq!(objects[0].value["spec"]["ports"][0]["port"], 6380);
    // As in the other layouts, an environment without a namespace leaves objects without one.
    assert_eq!(objects[0].namespace(), None);
}

#[test]
fn a_dependency_that_needs_a_download_is_refused_at_its_line_before_helm_runs() {
    let repo = TestRepo::new();
    repo.write(
        "envs/dev/Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  repository: http://127.0.0.1:9/charts\n",
    )
    .write("envs/dev/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n");
    repo.commit("needs a download");
    let err = render_head(&repo, &env("  dev:\n    path: envs/dev\n", "dev")).unwrap_err();
    assert_eq!(err.location(), Some(("envs/dev/Chart.yaml", 7, 15)));
    assert_eq!(
        err.to_string(),
        "envs/dev/Chart.yaml:7:15: dependency `redis` is not vendored under `envs/dev/charts/` and rendering it would need a download from `http://127.0.0.1:9/charts`; slipway never fetches charts: run `helm dependency build` and commit `charts/`"
    );
}

#[test]
fn a_file_dependency_outside_the_chart_is_refused() {
    let repo = TestRepo::new();
    repo.write(
        "envs/dev/Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: common\n  repository: file://../../../secrets\n",
    )
    .write("envs/dev/charts/common/Chart.yaml", "apiVersion: v2\nname: common\nversion: 1.0.0\n");
    repo.commit("outside");
    let err = render_head(&repo, &env("  dev:\n    path: envs/dev\n", "dev")).unwrap_err();
    assert_eq!(err.location(), Some(("envs/dev/Chart.yaml", 6, 15)));
    assert!(
        err.to_string().contains("points outside the chart"),
        "{err}"
    );
    repo.write(
        "envs/dev/Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: common\n  repository: file:///etc\n",
    );
    repo.commit("absolute");
    let err = render_head(&repo, &env("  dev:\n    path: envs/dev\n", "dev")).unwrap_err();
    assert_eq!(
        err.location(),
        Some(("envs/dev/Chart.yaml", 6, 15)),
        "{err}"
    );
}

#[test]
fn a_chart_using_lookup_renders_it_as_empty() {
    let repo = TestRepo::new();
    repo.write("envs/dev/Chart.yaml", CHART).write(
        "envs/dev/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  existing: {{ (lookup \"v1\" \"ConfigMap\" \"kube-system\" \"cluster-info\") | len | quote }}\n",
    );
    repo.commit("lookup");
    let objects = render_head(&repo, &env("  dev:\n    path: envs/dev\n", "dev")).unwrap();
    assert_eq!(objects[0].value["data"]["existing"], "0");
    let tree = LocalRepo::open(repo.path())
        .unwrap()
        .tree_at("HEAD")
        .unwrap();
    assert_eq!(
        slipway::render::charts_using_lookup(&tree, "envs/dev"),
        ["envs/dev/templates/cm.yaml"]
    );
}

#[test]
fn hooks_are_rendered_and_marked() {
    let repo = TestRepo::new();
    repo.write("envs/dev/Chart.yaml", CHART).write(
        "envs/dev/templates/migrate.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: m\n        image: busybox\n",
    );
    repo.commit("hook");
    let dev = env("  dev:\n    path: envs/dev\n", "dev");
    let objects = render_head(&repo, &dev).unwrap();
    assert_eq!(
        slipway::render::hook_of(&objects[0]),
        Some("pre-install,pre-upgrade")
    );
    let violations = slipway::policy::check(&dev, &objects);
    assert_eq!(
        violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["envs/dev/templates/migrate.yaml:1: Job.batch migrate is a Helm hook (pre-install,pre-upgrade); slipway applies manifests and does not run Helm's lifecycle, so hooks are refused at deploy"]
    );
}

#[test]
fn a_symlink_in_the_chart_is_refused() {
    let repo = TestRepo::new();
    repo.write("envs/dev/Chart.yaml", CHART)
        .write(
            "shared/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
        )
        .symlink("envs/dev/templates/cm.yaml", "../../../shared/cm.yaml");
    repo.commit("link");
    let err = render_head(&repo, &env("  dev:\n    path: envs/dev\n", "dev")).unwrap_err();
    assert!(
        matches!(&err, RenderError::Symlink { path, .. } if path == "envs/dev/templates/cm.yaml"),
        "{err}"
    );
}

#[test]
fn a_failing_template_reports_helm_s_message_with_repository_paths() {
    let repo = TestRepo::new();
    repo.write("envs/dev/Chart.yaml", CHART).write(
        "envs/dev/templates/cm.yaml",
        "{{ required \"set image.tag\" .Values.image.tag }}\n",
    );
    repo.commit("fails");
    let err = render_head(&repo, &env("  dev:\n    path: envs/dev\n", "dev")).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("`helm template` failed for envs/dev/Chart.yaml"),
        "{text}"
    );
    assert!(
        !text.contains("slipway-helm-"),
        "temporary paths leak: {text}"
    );
}

#[test]
fn a_chart_never_reaches_the_network_for_a_dependency() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let repo = TestRepo::new();
    repo.write(
        "envs/dev/Chart.yaml",
        &format!("apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  repository: http://127.0.0.1:{port}/charts\n"),
    )
    .write("envs/dev/Chart.lock", &format!("dependencies:\n- name: redis\n  repository: http://127.0.0.1:{port}/charts\n  version: 1.0.0\n"));
    repo.commit("a dependency served locally");
    let err = render_head(&repo, &env("  dev:\n    path: envs/dev\n", "dev")).unwrap_err();
    assert_eq!(err.location(), Some(("envs/dev/Chart.yaml", 7, 15)));
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "nothing may connect to the chart repository"
    );
}
