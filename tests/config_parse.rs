//! Valid `.github/slipway.yml` files and the domain values (and defaults) they become.

use std::time::Duration;

use slipway::config::{
    parse_app_repo, parse_config_repo, parse_repo_config, Build, BumpSource, Deploy, Environment,
    OnFailure, DEFAULT_DRIFT_INTERVAL,
};

const CONFIG_REPO: &str = r#"
# config repo
environments:
  dev:
    path: envs/dev              # plain YAML files, or a kustomization
    namespace: team-dev         # default namespace for objects without one
    allowed_namespaces: [team-dev]
    cluster: default            # a cluster named in the server settings
    bumped_by:                  # whose builds may set which image here
      registry.example.com/team/api: [acme/api]
  prod:
    path: envs/prod
    namespace: team-prod
    required_approvals: 2
    promote_from: dev
    prune: true
    health_timeout: 5m
    allow_stale_approvals: false
    on_failure: rollback
    self_heal: true
    drift_interval: 5m
"#;

const APP_REPO: &str = r#"
# app repo
build:
  image: registry.example.com/team/api
  dockerfile: Dockerfile
  context: .
  branches: [main]
  args:
    RUST_VERSION: "1.95"
deploy:
  repo: acme/gitops-config
  environment: dev
"#;

#[test]
fn the_documented_config_repo_example_parses() {
    let config = parse_config_repo(CONFIG_REPO).unwrap();
    assert_eq!(
        config.environments["prod"],
        Environment {
            name: "prod".into(),
            path: "envs/prod".into(),
            namespace: Some("team-prod".into()),
            allowed_namespaces: vec!["team-prod".into()],
            allowed_cluster_scoped: None,
            cluster: "default".into(),
            adopt: vec![],
            required_approvals: 2,
            promote_from: Some("dev".into()),
            prune: true,
            health_timeout: Duration::from_secs(300),
            allow_stale_approvals: false,
            on_failure: OnFailure::Rollback,
            production: true,
            self_heal: true,
            drift_interval: Some(Duration::from_secs(300)),
            helm: None,
            bumped_by: vec![],
        }
    );
    let dev = &config.environments["dev"];
    assert_eq!(
        dev.bumped_by,
        [BumpSource {
            image: "registry.example.com/team/api".into(),
            repos: vec!["acme/api".into()],
        }]
    );
    assert!(dev.allows_bump("registry.example.com/team/api", "acme/api"));
    assert!(dev.allows_bump("registry.example.com/team/api", "ACME/Api"));
    assert!(!dev.allows_bump("registry.example.com/team/api", "acme/evil"));
    assert!(!dev.allows_bump("registry.example.com/team/web", "acme/api"));
    // Deny by default: an environment without `bumped_by` takes no build's bump.
    assert!(!config.environments["prod"].allows_bump("registry.example.com/team/api", "acme/api"));
    assert_eq!(
        config.environments.keys().collect::<Vec<_>>(),
        ["dev", "prod"]
    );
    assert_eq!(config.promotion_targets("dev")[0].name, "prod");
}

#[test]
fn omitted_environment_fields_take_their_documented_defaults() {
    let config = parse_config_repo("environments:\n  dev:\n    path: ./envs/dev/\n").unwrap();
    assert_eq!(
        config.environments["dev"],
        Environment {
            name: "dev".into(),
            path: "envs/dev".into(),
            namespace: None,
            allowed_namespaces: vec![],
            allowed_cluster_scoped: None,
            cluster: "default".into(),
            adopt: vec![],
            required_approvals: 0,
            promote_from: None,
            prune: false,
            health_timeout: Duration::from_secs(300),
            allow_stale_approvals: false,
            on_failure: OnFailure::Leave,
            production: false,
            self_heal: false,
            drift_interval: Some(Duration::from_secs(600)),
            helm: None,
            bumped_by: vec![],
        }
    );
    assert!(config.environments["dev"].allows_namespace("anything"));
}

#[test]
fn production_defaults_by_name_and_can_be_set_either_way() {
    let config = parse_config_repo(
        "environments:\n  prod:\n    path: a\n  production:\n    path: b\n  prod-eu:\n    path: c\n  live:\n    path: d\n    production: true\n  production-copy:\n    path: e\n  staging:\n    path: f\n    production: false\n",
    )
    .unwrap();
    let production: Vec<(&str, bool)> = config
        .environments
        .values()
        .map(|env| (env.name.as_str(), env.production))
        .collect();
    assert_eq!(
        production,
        [
            ("live", true),
            ("prod", true),
            ("prod-eu", false),
            ("production", true),
            ("production-copy", false),
            ("staging", false),
        ]
    );
    let explicit =
        parse_config_repo("environments:\n  prod:\n    path: a\n    production: false\n").unwrap();
    assert!(!explicit.environments["prod"].production);
}

#[test]
fn deploy_behaviour_keys_read_as_written() {
    let config = parse_config_repo(
        "environments:\n  dev:\n    path: a\n    allow_stale_approvals: true\n    on_failure: none\n    drift_interval: 1h30m\n  qa:\n    path: b\n    on_failure: rollback\n    self_heal: true\n",
    )
    .unwrap();
    let dev = &config.environments["dev"];
    assert!(dev.allow_stale_approvals);
    assert_eq!(dev.on_failure, OnFailure::Leave);
    assert_eq!(dev.drift_interval, Some(Duration::from_secs(5400)));
    assert!(!dev.self_heal);
    let qa = &config.environments["qa"];
    assert_eq!(qa.on_failure, OnFailure::Rollback);
    assert!(qa.self_heal);
    assert_eq!(qa.drift_interval, Some(DEFAULT_DRIFT_INTERVAL));
}

#[test]
fn a_zero_drift_interval_turns_drift_checks_off() {
    for zero in ["0", "\"0\"", "0s", "0m"] {
        let config = parse_config_repo(&format!(
            "environments:\n  dev:\n    path: a\n    drift_interval: {zero}\n"
        ))
        .unwrap_or_else(|err| panic!("drift_interval: {zero}: {err}"));
        assert_eq!(config.environments["dev"].drift_interval, None, "{zero}");
    }
    let null =
        parse_config_repo("environments:\n  dev:\n    path: a\n    drift_interval: ~\n").unwrap();
    assert_eq!(
        null.environments["dev"].drift_interval,
        Some(DEFAULT_DRIFT_INTERVAL)
    );
}

#[test]
fn allowed_namespaces_default_to_the_namespace() {
    let config =
        parse_config_repo("environments:\n  dev:\n    path: envs/dev\n    namespace: team-dev\n")
            .unwrap();
    let dev = &config.environments["dev"];
    assert_eq!(dev.allowed_namespaces, ["team-dev"]);
    assert!(dev.allows_namespace("team-dev"));
    assert!(!dev.allows_namespace("kube-system"));
}

#[test]
fn explicit_nulls_mean_the_default() {
    let config = parse_config_repo(
        "environments:\n  dev:\n    path: envs/dev\n    namespace: ~\n    health_timeout:\n",
    )
    .unwrap();
    assert_eq!(config.environments["dev"].namespace, None);
    assert_eq!(
        config.environments["dev"].health_timeout,
        Duration::from_secs(300)
    );
}

#[test]
fn compound_durations_parse() {
    let config = parse_config_repo(
        "environments:\n  a:\n    path: a\n    health_timeout: 90s\n  b:\n    path: b\n    health_timeout: 1h30m\n",
    )
    .unwrap();
    assert_eq!(
        config.environments["a"].health_timeout,
        Duration::from_secs(90)
    );
    assert_eq!(
        config.environments["b"].health_timeout,
        Duration::from_secs(5400)
    );
}

#[test]
fn anchors_and_merge_keys_share_settings_between_environments() {
    let config = parse_config_repo(
        "environments:\n  dev: &base\n    path: envs/dev\n    namespace: east\n    prune: true\n  prod:\n    <<: *base\n    path: envs/prod\n",
    )
    .unwrap();
    let prod = &config.environments["prod"];
    assert_eq!(
        (prod.path.as_str(), prod.namespace.as_deref(), prod.prune),
        ("envs/prod", Some("east"), true)
    );
}

#[test]
fn the_documented_app_repo_example_parses() {
    let app = parse_app_repo(APP_REPO).unwrap();
    assert_eq!(
        app.build,
        Build {
            image: "registry.example.com/team/api".into(),
            dockerfile: "Dockerfile".into(),
            context: ".".into(),
            branches: vec!["main".into()],
            args: vec![("RUST_VERSION".into(), "1.95".into())],
        }
    );
    assert_eq!(
        app.deploy,
        Some(Deploy {
            repo: "acme/gitops-config".into(),
            environment: "dev".into(),
        })
    );
}

#[test]
fn omitted_build_fields_take_their_documented_defaults() {
    let app = parse_app_repo("build:\n  image: registry.example.com/team/api\n").unwrap();
    assert_eq!(app.build.dockerfile, "Dockerfile");
    assert_eq!(app.build.context, ".");
    assert!(
        app.build.branches.is_empty(),
        "empty means the default branch"
    );
    assert_eq!(app.deploy, None);
}

#[test]
fn one_file_may_declare_both_kinds() {
    let both = format!("{CONFIG_REPO}\n{}", APP_REPO.replace("# app repo", ""));
    let config = parse_repo_config(&both).unwrap();
    assert_eq!(config.config_repo.unwrap().environments.len(), 2);
    assert_eq!(
        config.app_repo.unwrap().build.image,
        "registry.example.com/team/api"
    );
}

#[test]
fn a_config_repo_file_is_not_an_app_repo() {
    let config = parse_repo_config(CONFIG_REPO).unwrap();
    assert!(config.config_repo.is_some());
    assert!(config.app_repo.is_none());
}
