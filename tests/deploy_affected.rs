//! Which environments a merge deploys, worked out from real git repositories: the merge
//! commit against its first parent, the gate and policy of the first parent's configuration,
//! each side rendered with its own settings of the environment.

mod git_fixtures;
mod manifests;

use git_fixtures::TestRepo;
use manifests::{config_map_in, deployment};
use slipway::diff::compare::Side;
use slipway::git::{CommitId, LocalRepo};
use slipway::pipelines::deploy::affected::{affected_environments, direct_push_deploys, Affected};

const CONFIG: &str = "\
environments:
  dev:
    path: envs/dev
    namespace: team-dev
  prod:
    path: envs/prod
    namespace: team-prod
    required_approvals: 2
";

/// A config repo whose `main` holds dev and prod, each with a Deployment and a ConfigMap.
fn config_repo() -> TestRepo {
    config_repo_with(CONFIG)
}

/// [`config_repo`] declaring `config`.
fn config_repo_with(config: &str) -> TestRepo {
    let work = TestRepo::new();
    work.write(".github/slipway.yml", config);
    for env in ["dev", "prod"] {
        work.write(&format!("envs/{env}/api.yaml"), &deployment("api", "v1"));
        work.write(
            &format!("envs/{env}/settings.yaml"),
            &config_map_in(&format!("team-{env}"), "settings", "LOG_LEVEL", "info"),
        );
    }
    work.write("README.md", "# config\n");
    work.commit("first");
    work
}

/// Runs `change` on a branch `change`, merges it into `main` with a merge commit, and works
/// out what that merge deploys, reading a bare mirror of the repository.
fn merge(work: &TestRepo, change: impl FnOnce(&TestRepo)) -> Affected {
    work.git(&["checkout", "--quiet", "-b", "change"]);
    change(work);
    work.commit("the change");
    work.git(&["checkout", "--quiet", "main"]);
    merged(work)
}

/// Merges the branch `change` into `main` and works out what the merge deploys.
fn merged(work: &TestRepo) -> Affected {
    work.git(&[
        "merge",
        "--quiet",
        "--no-ff",
        "-m",
        "Merge pull request #7",
        "change",
    ]);
    let merge: CommitId = work.git(&["rev-parse", "HEAD"]).parse().unwrap();
    let first_parent: CommitId = work.git(&["rev-parse", "HEAD^1"]).parse().unwrap();
    let (_dir, bare) = work.bare_clone();
    let mirror = LocalRepo::open(&bare).unwrap();
    affected_environments(
        &mirror,
        &merge,
        &first_parent,
        &slipway::config::KnownClusters::default(),
    )
    .unwrap()
}

/// The data of ConfigMap `settings` in an affected environment's render.
fn settings_value(affected: &Affected, env: &str) -> String {
    let found = affected
        .environments
        .iter()
        .find(|a| a.environment.name == env)
        .unwrap_or_else(|| panic!("{env} is not affected"));
    let objects = found.render.as_ref().expect("it renders");
    let settings = objects
        .iter()
        .find(|o| o.kind() == "ConfigMap")
        .expect("the ConfigMap is rendered");
    settings.value["data"]["LOG_LEVEL"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_change_to_dev_only_deploys_dev_with_its_merged_objects() {
    let work = config_repo();
    let affected = merge(&work, |w| {
        w.write(
            "envs/dev/settings.yaml",
            &config_map_in("team-dev", "settings", "LOG_LEVEL", "debug"),
        );
    });
    assert_eq!(affected.names(), ["dev"]);
    assert_eq!(settings_value(&affected, "dev"), "debug");
    let dev = &affected.environments[0];
    assert_eq!(
        dev.render.as_ref().unwrap().len(),
        2,
        "the whole environment, not the diff"
    );
    assert!(dev.violations.is_empty());
}

#[test]
fn what_reached_main_while_the_pull_request_was_open_is_not_deployed_again() {
    let work = config_repo();
    work.git(&["checkout", "--quiet", "-b", "change"]);
    work.write(
        "envs/dev/settings.yaml",
        &config_map_in("team-dev", "settings", "LOG_LEVEL", "debug"),
    );
    work.commit("dev: debug logs");
    work.git(&["checkout", "--quiet", "main"]);
    work.write("envs/prod/api.yaml", &deployment("api", "v2"));
    work.commit("prod: api v2, merged earlier");

    let affected = merged(&work);
    assert_eq!(
        affected.names(),
        ["dev"],
        "prod at the merge equals prod at the first parent"
    );
}

#[test]
fn a_pull_request_that_lowers_required_approvals_is_gated_by_the_old_value() {
    let work = config_repo();
    let affected = merge(&work, |w| {
        w.write(
            ".github/slipway.yml",
            &CONFIG.replace("required_approvals: 2", "required_approvals: 0"),
        );
        w.write("envs/prod/api.yaml", &deployment("api", "v2"));
    });
    assert_eq!(affected.names(), ["prod"]);
    let prod = &affected.environments[0].environment;
    assert_eq!(prod.required_approvals, 2, "the first parent's bar applies");
    assert_eq!(affected.config.environments["prod"].required_approvals, 2);
    assert!(!direct_push_deploys(prod));
    assert!(direct_push_deploys(&affected.config.environments["dev"]));
}

#[test]
fn an_environment_the_pull_request_adds_waits_for_the_next_merge() {
    let work = config_repo();
    let affected = merge(&work, |w| {
        w.write(
            ".github/slipway.yml",
            &format!("{CONFIG}  staging:\n    path: envs/staging\n"),
        );
        w.write("envs/staging/api.yaml", &deployment("api", "v1"));
    });
    assert!(affected.environments.is_empty(), "{:?}", affected.names());
    assert!(!affected.config.environments.contains_key("staging"));
}

#[test]
fn a_change_outside_every_environment_deploys_nothing() {
    let work = config_repo();
    let affected = merge(&work, |w| {
        w.write("README.md", "# config\n\nHow to change an environment.\n");
        w.write("docs/runbook.yaml", "kind: ConfigMap\n");
    });
    assert!(affected.environments.is_empty(), "{:?}", affected.names());
    assert_eq!(
        affected.config.environments.keys().collect::<Vec<_>>(),
        ["dev", "prod"]
    );
}

#[test]
fn a_reformatted_manifest_that_renders_the_same_deploys_nothing() {
    let work = config_repo();
    let affected = merge(&work, |w| {
        let text = w.read("envs/dev/settings.yaml");
        w.write(
            "envs/dev/settings.yaml",
            &format!("# owned by team dev\n{text}"),
        );
    });
    assert!(affected.environments.is_empty(), "{:?}", affected.names());
}

#[test]
fn a_merge_that_does_not_render_is_reported_not_skipped() {
    let work = config_repo();
    let affected = merge(&work, |w| {
        w.write(
            "envs/dev/broken.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\n  labels: [unclosed\n",
        );
    });
    assert_eq!(affected.names(), ["dev"]);
    let failure = affected.environments[0]
        .render
        .as_ref()
        .expect_err("the merge does not render");
    assert_eq!(
        failure.side,
        Side::Head,
        "the merge commit is the side that failed"
    );
    assert_eq!(failure.environment, "dev");
    let message = failure.error.to_string();
    assert!(message.contains("envs/dev/broken.yaml"), "{message}");
    assert!(affected.environments[0].violations.is_empty());
}

#[test]
fn objects_the_first_parents_policy_refuses_are_reported_with_the_environment() {
    let work = config_repo();
    let affected = merge(&work, |w| {
        w.write(
            "envs/dev/elsewhere.yaml",
            &config_map_in("kube-system", "sneaky", "KEY", "value"),
        );
    });
    assert_eq!(affected.names(), ["dev"]);
    let violations = &affected.environments[0].violations;
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].file, "envs/dev/elsewhere.yaml");
}

/// The namespaces of the objects of an affected environment's render, by kind and name.
fn placed(affected: &Affected, env: &str) -> Vec<String> {
    let found = affected
        .environments
        .iter()
        .find(|a| a.environment.name == env)
        .unwrap_or_else(|| panic!("{env} is not affected"));
    found
        .render
        .as_ref()
        .expect("it renders")
        .iter()
        .map(|o| format!("{} {}/{}", o.kind(), o.namespace().unwrap_or(""), o.name()))
        .collect()
}

/// dev may use a second namespace, so moving it there is within its policy.
const TWO_NAMESPACES: &str = "\
environments:
  dev:
    path: envs/dev
    namespace: team-dev
    allowed_namespaces: [team-dev, team-blue]
  prod:
    path: envs/prod
    namespace: team-prod
    required_approvals: 2
";

#[test]
fn a_namespace_change_alone_deploys_the_environment_into_the_new_namespace() {
    let work = config_repo_with(TWO_NAMESPACES);
    let affected = merge(&work, |w| {
        w.write(
            ".github/slipway.yml",
            &TWO_NAMESPACES.replace("namespace: team-dev\n", "namespace: team-blue\n"),
        );
    });
    assert_eq!(affected.names(), ["dev"], "a settings change is a change");
    assert_eq!(
        placed(&affected, "dev"),
        ["Deployment team-blue/api", "ConfigMap team-dev/settings",],
        "objects without a namespace go to the change's namespace; named ones stay"
    );
    assert!(affected.environments[0].violations.is_empty());
    assert_eq!(
        affected.environments[0].environment.namespace.as_deref(),
        Some("team-dev"),
        "the gate and policy are the first parent's"
    );
}

#[test]
fn a_path_change_deploys_what_the_new_path_holds() {
    let work = config_repo();
    let affected = merge(&work, |w| {
        w.write(
            ".github/slipway.yml",
            &CONFIG.replace("path: envs/dev\n", "path: envs/dev-v2\n"),
        );
        w.write("envs/dev-v2/api.yaml", &deployment("api", "v2"));
    });
    assert_eq!(affected.names(), ["dev"]);
    assert_eq!(placed(&affected, "dev"), ["Deployment team-dev/api"]);
    let objects = affected.environments[0].render.as_ref().unwrap();
    assert_eq!(objects[0].file, "envs/dev-v2/api.yaml");
}

#[test]
fn moving_into_a_namespace_the_old_policy_refuses_is_refused_though_the_change_widens_it() {
    let work = config_repo();
    let affected = merge(&work, |w| {
        w.write(
            ".github/slipway.yml",
            &CONFIG.replace(
                "namespace: team-dev\n",
                "namespace: kube-system\n    allowed_namespaces: [team-dev, kube-system]\n",
            ),
        );
    });
    assert_eq!(affected.names(), ["dev"]);
    let dev = &affected.environments[0];
    assert!(dev.environment.allowed_namespaces == ["team-dev"]);
    let refused: Vec<&str> = dev.violations.iter().map(|v| v.message.as_str()).collect();
    assert_eq!(
        refused,
        ["Deployment.apps kube-system/api is in namespace kube-system, outside the namespaces dev may use (team-dev)"]
    );
}

#[test]
fn an_environment_the_change_removes_is_no_longer_deployed() {
    let work = config_repo();
    let affected = merge(&work, |w| {
        w.write(
            ".github/slipway.yml",
            "environments:\n  dev:\n    path: envs/dev\n    namespace: team-dev\n",
        );
        w.write("envs/prod/api.yaml", &deployment("api", "v2"));
    });
    assert!(affected.environments.is_empty(), "{:?}", affected.names());
    assert!(
        affected.config.environments.contains_key("prod"),
        "the first parent's configuration is the one in force"
    );
}

#[test]
fn a_change_whose_configuration_does_not_parse_deploys_nothing_and_says_where() {
    let work = config_repo();
    let affected = merge(&work, |w| {
        w.write(
            ".github/slipway.yml",
            &CONFIG.replace("path: envs/dev", "pth: envs/dev"),
        );
        w.write("envs/dev/api.yaml", &deployment("api", "v2"));
    });
    assert_eq!(
        affected.names(),
        ["dev", "prod"],
        "each says it does not deploy"
    );
    for env in &affected.environments {
        let failure = env.render.as_ref().expect_err("nothing renders");
        assert_eq!(failure.side, Side::Head);
        let message = failure.error.to_string();
        assert!(
            message.starts_with(".github/slipway.yml:3:5: unknown key `pth`"),
            "{message}"
        );
    }
}

const HELM_CONFIG: &str = "\
environments:
  dev:
    path: chart
    namespace: team-dev
    helm:
      values: [values/dev.yaml]
";

#[test]
fn a_change_to_the_helm_values_files_list_deploys_what_the_new_list_renders() {
    assert!(
        slipway::render::find_helm().is_some(),
        "`helm` is not on PATH: run the tests with tests/run, which installs it"
    );
    let work = TestRepo::new();
    work.write(".github/slipway.yml", HELM_CONFIG)
        .write("chart/Chart.yaml", "apiVersion: v2\nname: api\nversion: 0.1.0\n")
        .write("chart/values.yaml", "replicas: 1\n")
        .write(
            "chart/templates/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: {{ .Values.replicas }}\n",
        )
        .write("values/dev.yaml", "replicas: 2\n")
        .write("values/busy.yaml", "replicas: 5\n");
    work.commit("first");

    // Only the list changes: no file the chart reads does.
    let affected = merge(&work, |w| {
        w.write(
            ".github/slipway.yml",
            &HELM_CONFIG.replace(
                "values: [values/dev.yaml]",
                "values: [values/dev.yaml, values/busy.yaml]",
            ),
        );
    });
    assert_eq!(affected.names(), ["dev"]);
    let objects = affected.environments[0]
        .render
        .as_ref()
        .expect("it renders");
    assert_eq!(objects.len(), 1);
    assert_eq!(
        objects[0].value["spec"]["replicas"], 5,
        "the later values file wins"
    );
    assert_eq!(
        affected.environments[0]
            .environment
            .helm_settings()
            .values
            .unwrap_or_default(),
        ["values/dev.yaml"],
        "the environment in force is the first parent's"
    );
}

#[test]
fn an_environment_added_earlier_deploys_at_the_next_change_to_it() {
    let work = config_repo();
    merge(&work, |w| {
        w.write(
            ".github/slipway.yml",
            &format!("{CONFIG}  staging:\n    path: envs/staging\n    namespace: team-staging\n"),
        );
        w.write("envs/staging/api.yaml", &deployment("api", "v1"));
    });
    work.git(&["branch", "--quiet", "-D", "change"]);
    let affected = merge(&work, |w| {
        w.write("envs/staging/api.yaml", &deployment("api", "v2"));
    });
    assert_eq!(affected.names(), ["staging"]);
    assert_eq!(
        placed(&affected, "staging"),
        ["Deployment team-staging/api"]
    );
}
