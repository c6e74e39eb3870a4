//! Every way `.github/slipway.yml` can be wrong, with the exact position the error points at.

use slipway::config::{
    parse_app_repo, parse_config_repo, parse_repo_config, ConfigError, ConfigErrors,
};

/// The one error of a file that has exactly one mistake.
fn config_error(text: &str) -> ConfigError {
    only(parse_repo_config(text).expect_err("the configuration should be refused"))
}

fn only(errors: ConfigErrors) -> ConfigError {
    assert_eq!(errors.len(), 1, "exactly one error expected:\n{errors}");
    errors.first().clone()
}

fn assert_error(text: &str, line: usize, column: usize, message_part: &str) {
    let err = config_error(text);
    assert_eq!(
        (err.line(), err.column()),
        (line, column),
        "wrong position for: {err}"
    );
    assert!(
        err.message().contains(message_part),
        "message {:?} should contain {message_part:?}",
        err.message()
    );
    assert_eq!(
        err.to_string(),
        format!(".github/slipway.yml:{line}:{column}: {}", err.message())
    );
}

#[test]
fn unknown_environment_key_names_the_allowed_keys_and_the_closest() {
    let text = "environments:\n  dev:\n    path: envs/dev\n    pth: envs/x\n";
    let err = config_error(text);
    assert_eq!(
        err.to_string(),
        ".github/slipway.yml:4:5: unknown key `pth` in environment `dev`; did you mean `path`? \
         allowed keys: path, namespace, allowed_namespaces, allowed_cluster_scoped, cluster, adopt, required_approvals, \
         promote_from, prune, health_timeout, allow_stale_approvals, on_failure, production, self_heal, drift_interval, helm, bumped_by"
    );
}

#[test]
fn bumped_by_repo_that_is_not_owner_slash_name_is_refused_at_the_item() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    bumped_by:\n      registry.example.com/team/api: [acme/api, evil]\n",
        5,
        49,
        "`bumped_by` of `registry.example.com/team/api`: `evil` is not `owner/name`, e.g. `acme/api`",
    );
}

#[test]
fn bumped_by_repo_listed_twice_is_refused_at_the_second() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    bumped_by:\n      registry.example.com/team/api:\n        - acme/api\n        - Acme/API\n",
        7,
        11,
        "`bumped_by` of `registry.example.com/team/api` lists `Acme/API` twice; list it once",
    );
}

#[test]
fn bumped_by_image_named_twice_by_two_spellings_is_refused() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    bumped_by:\n      nginx: [acme/web]\n      docker.io/library/nginx: [acme/api]\n",
        6,
        7,
        "`bumped_by` names image `docker.io/library/nginx` twice (it is `nginx` too); list its repositories once",
    );
}

#[test]
fn bumped_by_key_with_a_tag_is_not_an_image_repository() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    bumped_by:\n      registry.example.com/team/api:1.0: [acme/api]\n",
        5,
        7,
        "`bumped_by` key `registry.example.com/team/api:1.0` is not an image repository",
    );
}

#[test]
fn bumped_by_must_map_images_to_lists() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    bumped_by:\n      registry.example.com/team/api: acme/api\n",
        5,
        38,
        "must be a list of strings",
    );
}

#[test]
fn unknown_top_level_key_lists_what_is_allowed() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\nenvironment: {}\n",
        4,
        1,
        "unknown key `environment` at the top level; did you mean `environments`? allowed keys: environments, build, deploy",
    );
}

#[test]
fn unknown_key_without_a_close_match_gets_no_suggestion() {
    let err = config_error("build:\n  image: registry.example.com/api\n  colour: blue\n");
    assert_eq!((err.line(), err.column()), (3, 3));
    assert_eq!(
        err.message(),
        "unknown key `colour` in `build` allowed keys: image, dockerfile, context, branches, args"
    );
}

#[test]
fn a_build_arg_name_a_dockerfile_could_not_declare_is_refused_at_its_key() {
    assert_error(
        "build:\n  image: registry.example.com/api\n  args:\n    1st-arg: x\n",
        4,
        5,
        "`1st-arg` is not a build arg name: letters, digits and `_`, not starting with a digit",
    );
}

#[test]
fn a_build_arg_value_must_be_a_scalar() {
    assert_error(
        "build:\n  image: registry.example.com/api\n  args:\n    FLAGS: [a, b]\n",
        4,
        12,
        "`FLAGS` of `args` must be a string, number or boolean",
    );
}

#[test]
fn string_where_a_count_belongs_is_a_wrong_type_at_the_value() {
    assert_error(
        "environments:\n  prod:\n    path: envs/prod\n    required_approvals: two\n",
        4,
        25,
        "`required_approvals` must be a non-negative integer, found string \"two\"",
    );
}

#[test]
fn negative_approvals_are_refused() {
    assert_error(
        "environments:\n  prod:\n    path: envs/prod\n    required_approvals: -1\n",
        4,
        25,
        "must be a non-negative integer, found integer `-1`",
    );
}

#[test]
fn prune_must_be_a_boolean() {
    assert_error(
        "environments:\n  prod:\n    path: envs/prod\n    prune: \"yes\"\n",
        4,
        12,
        "`prune` must be `true` or `false`, found string \"yes\"",
    );
}

#[test]
fn environments_must_be_a_mapping() {
    assert_error(
        "environments:\n  - dev\n  - prod\n",
        2,
        3,
        "`environments` must be a mapping, found list",
    );
}

#[test]
fn allowed_namespaces_items_must_be_strings() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    allowed_namespaces: [team-dev, 7]\n",
        4,
        36,
        "item 2 of `allowed_namespaces` must be a string, found integer `7`",
    );
}

#[test]
fn environment_name_that_is_not_a_dns_label_is_located_at_the_name() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n  Prod_EU:\n    path: envs/prod\n",
        4,
        3,
        "environment name `Prod_EU` is not a DNS label",
    );
}

#[test]
fn absolute_path_is_refused_at_the_value() {
    assert_error(
        "environments:\n  dev:\n    path: /etc/kubernetes\n",
        3,
        11,
        "`path` must be relative to the repository root, found absolute path `/etc/kubernetes`",
    );
}

#[test]
fn path_leaving_the_repository_is_refused() {
    assert_error(
        "environments:\n  dev:\n    path: envs/../../secrets\n",
        3,
        11,
        "`path` must stay inside the repository; `..` is not allowed",
    );
}

#[test]
fn quoted_path_values_are_located_at_the_opening_quote() {
    assert_error(
        "environments:\n  dev:\n    path: \"../other-repo\"\n",
        3,
        11,
        "`..` is not allowed",
    );
}

#[test]
fn missing_path_is_reported_at_the_environment() {
    assert_error(
        "environments:\n  dev:\n    namespace: team-dev\n",
        2,
        3,
        "environment `dev` has no `path`; it is required",
    );
}

#[test]
fn promote_from_a_missing_environment_lists_the_declared_ones() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n  prod:\n    path: envs/prod\n    promote_from: staging\n",
        6,
        19,
        "`promote_from` names environment `staging`, which is not declared; declared environments: dev, prod",
    );
}

#[test]
fn promote_from_cycle_is_reported_with_the_whole_loop() {
    let text = "environments:\n  dev:\n    path: envs/dev\n    promote_from: prod\n  stage:\n    path: envs/stage\n    promote_from: dev\n  prod:\n    path: envs/prod\n    promote_from: stage\n";
    assert_error(
        text,
        4,
        19,
        "`promote_from` forms a cycle: dev → prod → stage → dev",
    );
}

#[test]
fn promote_from_itself_is_refused() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    promote_from: dev\n",
        4,
        19,
        "`promote_from` names `dev` itself",
    );
}

#[test]
fn duration_without_a_unit_is_refused() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    health_timeout: \"300\"\n",
        4,
        21,
        "`health_timeout`: `300` has no unit; use whole numbers with units h, m, s",
    );
}

#[test]
fn duration_in_words_is_refused() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    health_timeout: 5 minutes\n",
        4,
        21,
        "`5 minutes` is not a duration",
    );
}

#[test]
fn duration_as_a_bare_number_is_a_wrong_type() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    health_timeout: 300\n",
        4,
        21,
        "`health_timeout` must be a duration with a unit (h, m, s), e.g. `90s`, `5m`, `1h30m`, found integer `300`",
    );
}

#[test]
fn on_failure_names_its_two_values_and_the_closest() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    on_failure: rolback\n",
        4,
        17,
        "`on_failure` must be `rollback` (apply the previous deploy again) or `none` (leave the cluster as it is), found \"rolback\"; did you mean `rollback`?",
    );
}

#[test]
fn on_failure_must_be_a_string() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    on_failure: false\n",
        4,
        17,
        "`on_failure` must be a string, found boolean `false`",
    );
}

#[test]
fn production_must_be_a_boolean() {
    assert_error(
        "environments:\n  prod:\n    path: envs/prod\n    production: \"yes\"\n",
        4,
        17,
        "`production` must be `true` or `false`, found string \"yes\"",
    );
}

#[test]
fn drift_interval_says_how_to_turn_it_off() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    drift_interval: 10\n",
        4,
        21,
        "`drift_interval` must be a duration with a unit (h, m, s), e.g. `90s`, `5m`, `1h30m`, or `0` to turn it off, found integer `10`",
    );
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    drift_interval: ten minutes\n",
        4,
        21,
        "`drift_interval`: `ten minutes` is not a duration; use whole numbers with units h, m, s, largest first, e.g. `90s`, `5m`, `1h30m`, or `0` to turn drift checks off",
    );
}

#[test]
fn self_heal_without_drift_checks_is_refused_at_self_heal() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    self_heal: true\n    drift_interval: 0\n",
        4,
        16,
        "`self_heal` needs drift checks, but `drift_interval` is `0` in environment `dev`",
    );
}

#[test]
fn namespace_outside_allowed_namespaces_is_refused() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    namespace: team-dev\n    allowed_namespaces: [team-ops]\n",
        4,
        16,
        "`namespace` `team-dev` is not in `allowed_namespaces` (team-ops)",
    );
}

#[test]
fn yaml_syntax_error_has_libyamls_position() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n   namespace: x\n",
        4,
        4,
        "invalid YAML: did not find expected key",
    );
}

#[test]
fn mapping_value_inside_a_plain_scalar_is_a_syntax_error_at_the_colon() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev: x\n",
        3,
        19,
        "invalid YAML: mapping values are not allowed in this context",
    );
}

#[test]
fn tab_indentation_is_a_syntax_error_with_position() {
    let err = config_error("environments:\n\tdev:\n");
    assert_eq!((err.line(), err.column()), (2, 1), "{err}");
    assert!(err.message().starts_with("invalid YAML: "), "{err}");
}

#[test]
fn empty_file_says_what_to_declare() {
    assert_error(
        "# nothing yet\n",
        1,
        1,
        "the file is empty: declare `environments:` (a config repo) or `build:` (an app repo)",
    );
}

#[test]
fn empty_environments_mapping_is_refused() {
    assert_error("environments: {}\n", 1, 15, "`environments` is empty");
}

#[test]
fn image_with_a_tag_is_refused() {
    assert_error(
        "build:\n  image: registry.example.com/team/api:v1\n",
        2,
        10,
        "`image` must name a repository without a tag",
    );
}

#[test]
fn build_without_image_is_reported_at_build() {
    assert_error(
        "build:\n  dockerfile: Dockerfile\n",
        1,
        1,
        "`build` has no `image`",
    );
}

#[test]
fn dockerfile_outside_the_repository_is_refused() {
    assert_error(
        "build:\n  image: registry.example.com/api\n  dockerfile: ../Dockerfile\n",
        3,
        15,
        "`dockerfile` must stay inside the repository",
    );
}

#[test]
fn deploy_repo_must_be_owner_slash_name() {
    assert_error(
        "build:\n  image: registry.example.com/api\ndeploy:\n  repo: gitops-config\n  environment: dev\n",
        4,
        9,
        "`repo` `gitops-config` is not `owner/name`",
    );
}

#[test]
fn deploy_environment_must_be_a_dns_label() {
    assert_error(
        "build:\n  image: registry.example.com/api\ndeploy:\n  repo: acme/config\n  environment: Dev\n",
        5,
        16,
        "`environment` `Dev` is not a DNS label",
    );
}

#[test]
fn deploy_without_build_is_refused() {
    assert_error(
        "deploy:\n  repo: acme/config\n  environment: dev\n",
        1,
        1,
        "`deploy` needs a `build` section",
    );
}

#[test]
fn branch_patterns_must_be_valid_git_names() {
    assert_error(
        "build:\n  image: registry.example.com/api\n  branches: [main, \"feature..x\"]\n",
        3,
        20,
        "`branches` item \"feature..x\" is not a valid branch name or pattern",
    );
}

#[test]
fn config_repo_parser_refuses_an_app_repo_file() {
    let err = only(parse_config_repo("build:\n  image: registry.example.com/api\n").unwrap_err());
    assert_eq!((err.line(), err.column()), (1, 1));
    assert!(
        err.message().starts_with("no `environments:` here"),
        "{err}"
    );
}

#[test]
fn app_repo_parser_refuses_a_config_repo_file() {
    let err = only(parse_app_repo("environments:\n  dev:\n    path: envs/dev\n").unwrap_err());
    assert!(err.message().starts_with("no `build:` here"), "{err}");
}

#[test]
fn positions_count_characters_after_multibyte_text() {
    // `é` is two bytes; the column counts it as one character.
    assert_error(
        "# café\nenvironments:\n  dev:\n    path: envs/dev\n    namespace: \"é\"\n",
        5,
        16,
        "`namespace` `é` is not a valid namespace name",
    );
}

#[test]
fn flow_style_mappings_are_located_too() {
    assert_error(
        "environments: {dev: {path: envs/dev, prun: true}}\n",
        1,
        38,
        "unknown key `prun` in environment `dev`; did you mean `prune`?",
    );
}

#[test]
fn quoted_keys_are_located() {
    assert_error(
        "environments:\n  \"dev\":\n    \"path\": \"/abs\"\n",
        3,
        13,
        "`path` must be relative to the repository root",
    );
}

#[test]
fn non_string_keys_are_refused() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    5: five\n",
        4,
        5,
        "keys must be strings, found integer `5`",
    );
}

/// Every error of `text`, as `line:col: message` lines.
fn all_errors(text: &str) -> Vec<String> {
    parse_repo_config(text)
        .expect_err("the configuration should be refused")
        .iter()
        .map(|e| format!("{}:{}: {}", e.line(), e.column(), e.message()))
        .collect()
}

#[test]
fn every_error_is_reported_sorted_by_position() {
    let text = "environments:\n  dev:\n    path: /abs\n    required_approvals: two\n    pth: x\n  Prod_EU:\n    path: envs/prod\n    health_timeout: 300\n    promote_from: staging\n  qa:\n    namespace: Team\n";
    assert_eq!(
        all_errors(text),
        [
            "3:11: `path` must be relative to the repository root, found absolute path `/abs`",
            "4:25: `required_approvals` must be a non-negative integer, found string \"two\"",
            "5:5: unknown key `pth` in environment `dev`; did you mean `path`? allowed keys: path, namespace, allowed_namespaces, allowed_cluster_scoped, cluster, adopt, required_approvals, promote_from, prune, health_timeout, allow_stale_approvals, on_failure, production, self_heal, drift_interval, helm, bumped_by",
            "6:3: environment name `Prod_EU` is not a DNS label; use at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit",
            "8:21: `health_timeout` must be a duration with a unit (h, m, s), e.g. `90s`, `5m`, `1h30m`, found integer `300`",
            "9:19: `promote_from` names environment `staging`, which is not declared; declared environments: Prod_EU, dev, qa",
            "10:3: environment `qa` has no `path`; it is required: the repo-relative directory of its manifests",
            "11:16: `namespace` `Team` is not a valid namespace name; use at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit",
        ]
    );
}

#[test]
fn a_duplicate_key_is_reported_at_the_second_occurrence_and_the_rest_is_still_checked() {
    let text = "environments:\n  dev:\n    path: envs/dev\n  dev:\n    path: envs/other\n  prod:\n    path: envs/prod\n    prune: sometimes\n";
    assert_eq!(
        all_errors(text),
        [
            "4:3: duplicate key `dev` in `environments`: it is already set on line 2; keep one of them",
            "8:12: `prune` must be `true` or `false`, found string \"sometimes\"",
        ]
    );
}

#[test]
fn a_duplicate_field_names_its_environment() {
    assert_error(
        "environments:\n  dev:\n    path: envs/dev\n    prune: true\n    prune: false\n",
        5,
        5,
        "duplicate key `prune` in environment `dev`: it is already set on line 4",
    );
}

#[test]
fn a_value_of_the_wrong_type_is_not_also_called_missing() {
    assert_error(
        "environments:\n  dev:\n    path: [envs, dev]\n",
        3,
        11,
        "`path` must be a string, found list",
    );
}

#[test]
fn a_misspelt_required_key_is_one_error_not_two() {
    assert_error(
        "build:\n  imag: registry.example.com/api\n",
        2,
        3,
        "unknown key `imag` in `build`; did you mean `image`?",
    );
}

#[test]
fn a_promotion_cycle_is_reported_once() {
    let text = "environments:\n  dev:\n    path: envs/dev\n    promote_from: prod\n  prod:\n    path: envs/prod\n    promote_from: dev\n";
    assert_eq!(
        all_errors(text),
        ["4:19: `promote_from` forms a cycle: dev → prod → dev; promotions must flow one way"]
    );
}

#[test]
fn every_bad_item_of_a_list_is_reported() {
    let text =
        "environments:\n  dev:\n    path: envs/dev\n    allowed_namespaces: [7, team-dev, true]\n";
    assert_eq!(
        all_errors(text),
        [
            "4:26: item 1 of `allowed_namespaces` must be a string, found integer `7`",
            "4:39: item 3 of `allowed_namespaces` must be a string, found boolean `true`",
        ]
    );
}

#[test]
fn a_yaml_syntax_error_is_the_only_error_reported() {
    let text = "environments:\n  dev:\n    pth: envs/dev\n   namespace: x\n";
    assert_eq!(
        all_errors(text),
        ["4:4: invalid YAML: did not find expected key, while parsing a block mapping"]
    );
}

#[test]
fn the_errors_display_one_per_line() {
    let errors = parse_repo_config("environments:\n  dev:\n    prune: 1\n").unwrap_err();
    assert_eq!(
        errors.to_string(),
        ".github/slipway.yml:2:3: environment `dev` has no `path`; it is required: the repo-relative directory of its manifests\n\
         .github/slipway.yml:3:12: `prune` must be `true` or `false`, found integer `1`"
    );
}

#[test]
fn a_helm_release_that_is_no_release_name_is_refused_at_its_value() {
    assert_error(
        "environments:\n  dev:\n    path: chart\n    helm:\n      release: My_Release\n",
        5,
        16,
        "`helm.release` `My_Release` is not a valid release name",
    );
}

#[test]
fn a_helm_values_file_outside_the_repository_is_refused_at_its_item() {
    assert_error(
        "environments:\n  dev:\n    path: chart\n    helm:\n      values:\n      - chart/values.yaml\n      - ../secrets.yaml\n",
        7,
        9,
        "`helm.values` item must stay inside the repository",
    );
}

#[test]
fn a_helm_set_key_that_would_inject_another_setting_is_refused_at_the_key() {
    assert_error(
        "environments:\n  dev:\n    path: chart\n    helm:\n      set:\n        \"image.tag,replicas\": v2\n",
        6,
        9,
        "`helm.set` key `image.tag,replicas` contains ','",
    );
    assert_error(
        "environments:\n  dev:\n    path: chart\n    helm:\n      set:\n        \"a=b\": v2\n",
        6,
        9,
        "contains '='",
    );
}

#[test]
fn a_helm_kube_version_and_api_versions_are_checked() {
    assert_error(
        "environments:\n  dev:\n    path: chart\n    helm:\n      kube_version: latest\n",
        5,
        21,
        "`helm.kube_version` `latest` is not a Kubernetes version",
    );
    assert_error(
        "environments:\n  dev:\n    path: chart\n    helm:\n      api_versions: [\"monitoring.coreos.com/v1\", \"not an api\"]\n",
        5,
        50,
        "`helm.api_versions` item `not an api` is not an API version",
    );
}

#[test]
fn an_unknown_helm_key_names_the_allowed_ones() {
    assert_error(
        "environments:\n  dev:\n    path: chart\n    helm:\n      value: [a.yaml]\n",
        5,
        7,
        "unknown key `value` in `helm` of environment `dev`; did you mean `values`? allowed keys: release, values, set, kube_version, api_versions",
    );
}
