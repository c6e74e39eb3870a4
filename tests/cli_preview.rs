//! `slipway preview` end to end on real repositories.

mod git_fixtures;

use git_fixtures::{slipway, TestRepo, CONFIG};

const PASSWORD_BASE: &str = "s3cr3t-base-value";
const PASSWORD_HEAD: &str = "s3cr3t-head-value";

fn app(env: &str, tag: &str, log_level: &str, password: &str) -> String {
    format!(
        "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  selector:
    matchLabels: {{app: api}}
  template:
    metadata:
      labels: {{app: api}}
    spec:
      containers:
        - name: api
          image: registry.example.com/team/api:{tag}
          envFrom:
            - configMapRef: {{name: api}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: api
data:
  LOG_LEVEL: {log_level}
  ENVIRONMENT: {env}
---
apiVersion: v1
kind: Secret
metadata:
  name: api
stringData:
  password: {password}
"
    )
}

/// A config repo whose `main` has dev and prod at 1.0; returns it and main's commit.
fn config_repo() -> (TestRepo, String) {
    let repo = TestRepo::new();
    repo.write(".github/slipway.yml", CONFIG)
        .write(
            "envs/dev/api.yaml",
            &app("dev", "1.0", "info", PASSWORD_BASE),
        )
        .write(
            "envs/prod/api.yaml",
            &app("prod", "1.0", "info", PASSWORD_BASE),
        );
    let base = repo.commit("initial");
    (repo, base)
}

fn path(repo: &TestRepo) -> &str {
    repo.path().to_str().unwrap()
}

#[test]
fn markdown_shows_only_the_environments_that_changed_without_their_secrets() {
    let (repo, base) = config_repo();
    repo.write(
        "envs/dev/api.yaml",
        &app("dev", "1.1", "debug", PASSWORD_HEAD),
    );
    let head = repo.commit("bump dev");

    let run = slipway(&[
        "preview",
        "--repo",
        path(&repo),
        "--base",
        &base,
        "--head",
        &head,
    ]);

    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("<!-- slipway:preview part=1 -->\n## slipway · rendered manifests\n"),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains(&format!("`{}` → `{}`", &base[..7], &head[..7])));
    assert!(run.stdout.contains("### Environment `dev`"));
    assert!(!run.stdout.contains("prod"), "prod did not change");
    assert!(run.stdout.contains("| ConfigMap | 0 | 1 | 0 |"));
    assert!(run
        .stdout
        .contains("<b>changed</b> Deployment <code>team-dev/api</code>"));
    assert!(run.stdout.contains("-        image: registry.example.com/team/api:1.0\n+        image: registry.example.com/team/api:1.1\n"), "{}", run.stdout);
    assert!(run.stdout.contains("  password: '<secret hmac:"));
    for output in [&run.stdout, &run.stderr] {
        assert!(!output.contains(PASSWORD_BASE) && !output.contains(PASSWORD_HEAD));
    }
}

#[test]
fn json_holds_the_object_diff_without_secrets() {
    let (repo, base) = config_repo();
    repo.write(
        "envs/dev/api.yaml",
        &app("dev", "1.0", "info", PASSWORD_HEAD),
    );
    let head = repo.commit("rotate the password");

    let run = slipway(&[
        "preview",
        "--repo",
        path(&repo),
        "--base",
        &base,
        "--head",
        &head,
        "--format",
        "json",
    ]);

    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["base"], base.as_str());
    assert_eq!(json["head"], head.as_str());
    let environments = json["environments"].as_array().unwrap();
    assert_eq!(environments.len(), 1);
    assert_eq!(environments[0]["environment"], "dev");
    let changed: Vec<&serde_json::Value> = environments[0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["change"] != "unchanged")
        .collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["kind"], "Secret");
    assert_eq!(changed[0]["namespace"], "team-dev");
    for output in [&run.stdout, &run.stderr] {
        assert!(!output.contains(PASSWORD_BASE) && !output.contains(PASSWORD_HEAD));
    }
}

#[test]
fn a_named_environment_without_changes_says_so() {
    let (repo, base) = config_repo();
    repo.write(
        "envs/dev/api.yaml",
        &app("dev", "1.1", "info", PASSWORD_BASE),
    );
    let head = repo.commit("bump dev");

    let run = slipway(&[
        "preview",
        "--repo",
        path(&repo),
        "--base",
        &base,
        "--head",
        &head,
        "--env",
        "prod",
    ]);

    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .ends_with("No changes to the rendered manifests of `prod`.\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_environment_created_by_the_change_shows_every_object_added() {
    let (repo, base) = config_repo();
    repo.write(
        ".github/slipway.yml",
        &format!("{CONFIG}  staging:\n    path: envs/staging\n    namespace: team-staging\n"),
    );
    let with_staging = repo.commit("declare staging");
    repo.write(
        "envs/staging/api.yaml",
        &app("staging", "1.0", "info", PASSWORD_BASE),
    );
    let head = repo.commit("fill staging");

    let run = slipway(&[
        "preview",
        "--repo",
        path(&repo),
        "--base",
        &with_staging,
        "--head",
        &head,
    ]);

    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("### Environment `staging`"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("| Deployment | 1 | 0 | 0 |"));
    assert!(!run.stdout.contains(&base[..7]));
}

#[test]
fn a_kustomize_environment_is_built_and_compared() {
    let repo = TestRepo::new();
    repo.write(".github/slipway.yml", "environments:\n  dev:\n    path: envs/dev\n")
        .write("base/kustomization.yaml", "resources: [api.yaml]\n")
        .write("base/api.yaml", &app("base", "1.0", "info", PASSWORD_BASE))
        .write(
            "envs/dev/kustomization.yaml",
            "namespace: team-dev\nresources: [../../base]\nimages:\n  - name: registry.example.com/team/api\n    newTag: \"1.0\"\n",
        );
    let base = repo.commit("initial");
    repo.write(
        "envs/dev/kustomization.yaml",
        "namespace: team-dev\nresources: [../../base]\nimages:\n  - name: registry.example.com/team/api\n    newTag: \"2.0\"\n",
    );
    let head = repo.commit("bump");

    let run = slipway(&[
        "preview",
        "--repo",
        path(&repo),
        "--base",
        &base,
        "--head",
        &head,
    ]);

    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("-        image: registry.example.com/team/api:1.0"),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("+        image: registry.example.com/team/api:2.0"));
    assert!(run.stdout.contains("| Deployment | 0 | 1 | 0 |"));
}

#[test]
fn a_diff_too_big_for_one_comment_prints_numbered_parts() {
    let (repo, base) = config_repo();
    let mut big = String::new();
    for i in 0..400 {
        big.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cfg-{i:03}}}\ndata:\n  payload: \"{}\"\n",
            "x".repeat(400)
        ));
    }
    repo.write("envs/dev/many.yaml", &big);
    let head = repo.commit("add 400 config maps");

    let run = slipway(&[
        "preview",
        "--repo",
        path(&repo),
        "--base",
        &base,
        "--head",
        &head,
        "--max-parts",
        "2",
    ]);

    assert_eq!(run.code, 0, "{}", run.stderr);
    let parts: Vec<&str> = run
        .stdout
        .split("<!-- slipway:preview part=")
        .skip(1)
        .collect();
    assert_eq!(parts.len(), 2);
    assert!(parts[0].starts_with("1 -->\n## slipway · rendered manifests · Part 1 of 2\n"));
    assert!(parts[1].starts_with("2 -->\n## slipway · rendered manifests · Part 2 of 2\n"));
    let command = format!(
        "slipway preview --repo {} --base {base} --head {head} --max-parts 0",
        path(&repo)
    );
    assert!(
        parts[1].contains(&command),
        "{}",
        &parts[1][parts[1].len() - 600..]
    );

    let all = slipway(&[
        "preview",
        "--repo",
        path(&repo),
        "--base",
        &base,
        "--head",
        &head,
        "--max-parts",
        "0",
    ]);
    assert_eq!(all.code, 0);
    assert_eq!(all.stdout.matches("<b>added</b> ConfigMap").count(), 400);
    assert!(!all.stdout.contains("Not shown"));
}

#[test]
fn an_unknown_environment_is_an_error_naming_the_declared_ones() {
    let (repo, base) = config_repo();

    let run = slipway(&[
        "preview",
        "--repo",
        path(&repo),
        "--base",
        &base,
        "--head",
        &base,
        "--env",
        "qa",
    ]);

    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("error: no environment `qa` in .github/slipway.yml at "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("declared: dev, prod"));
}

#[test]
fn a_render_error_points_at_the_file_and_line() {
    let (repo, base) = config_repo();
    repo.write(
        "envs/dev/broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: indent\n",
    );
    let head = repo.commit("break dev");

    let run = slipway(&[
        "preview",
        "--repo",
        path(&repo),
        "--base",
        &base,
        "--head",
        &head,
    ]);

    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("envs/dev/broken.yaml:"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_argument_is_a_usage_error() {
    let run = slipway(&["preview", "--repo", "."]);

    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--base"), "{}", run.stderr);
}

#[test]
fn a_change_to_a_shared_base_shows_in_every_overlay_built_on_it() {
    let repo = TestRepo::new();
    let overlay = |env: &str| format!("namespace: team-{env}\nresources: [../../base/api]\n");
    repo.write(".github/slipway.yml", CONFIG)
        .write("base/api/kustomization.yaml", "resources: [api.yaml]\n")
        .write(
            "base/api/api.yaml",
            &app("base", "1.0", "info", PASSWORD_BASE),
        )
        .write("envs/dev/kustomization.yaml", &overlay("dev"))
        .write("envs/prod/kustomization.yaml", &overlay("prod"));
    let base = repo.commit("initial");
    repo.write(
        "base/api/api.yaml",
        &app("base", "1.0", "warn", PASSWORD_BASE),
    );
    let head = repo.commit("change the shared base");

    let run = slipway(&[
        "preview",
        "--repo",
        path(&repo),
        "--base",
        &base,
        "--head",
        &head,
    ]);

    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("### Environment `dev`"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("### Environment `prod`"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("+  LOG_LEVEL: warn").count(), 2);
}

#[test]
fn each_environment_says_how_many_approvals_it_needs_to_deploy() {
    let (repo, _) = config_repo();
    repo.write(
        ".github/slipway.yml",
        &CONFIG.replace(
            "    promote_from: dev\n",
            "    promote_from: dev\n    required_approvals: 2\n",
        ),
    );
    let base = repo.commit("prod needs two approvals");
    repo.write(
        "envs/dev/api.yaml",
        &app("dev", "1.1", "info", PASSWORD_BASE),
    )
    .write(
        "envs/prod/api.yaml",
        &app("prod", "1.1", "info", PASSWORD_BASE),
    );
    let head = repo.commit("bump both");

    let run = slipway(&[
        "preview",
        "--repo",
        path(&repo),
        "--base",
        &base,
        "--head",
        &head,
    ]);

    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(
            "### Environment `dev`\n\n- Deploying needs no approving review beyond branch protection.\n\n| kind |"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "### Environment `prod`\n\n- Deploying needs 2 approving reviews.\n\n| kind |"
        ),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("locked"),
        "the command line knows no locks"
    );
}

#[test]
fn an_object_outside_the_allowed_namespaces_is_previewed_marked_and_fails_the_command() {
    let (repo, base) = config_repo();
    repo.write(
        "envs/dev/kube.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: kube-system\n",
    );
    let head = repo.commit("reach into kube-system");

    let run = slipway(&[
        "preview",
        "--repo",
        path(&repo),
        "--base",
        &base,
        "--head",
        &head,
    ]);

    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "error: envs/dev/kube.yaml:1: ConfigMap kube-system/x is in namespace kube-system, outside the namespaces dev may use (team-dev)\n"
    );
    assert!(
        run.stdout
            .contains("| ConfigMap ⛔ 1 refused | 1 | 0 | 0 |"),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("<b>added</b> ConfigMap <code>kube-system/x</code> ⛔ <b>refused by policy</b>"));
    assert!(run
        .stdout
        .contains("- ⛔ `envs/dev/kube.yaml:1`: ConfigMap kube-system/x"));
}

#[test]
fn a_base_without_the_configuration_is_an_error_naming_the_revision() {
    let repo = TestRepo::new();
    repo.write(
        "envs/dev/api.yaml",
        &app("dev", "1.0", "info", PASSWORD_BASE),
    );
    let base = repo.commit("no configuration yet");

    let run = slipway(&[
        "preview",
        "--repo",
        path(&repo),
        "--base",
        "main",
        "--head",
        &base,
    ]);

    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!(
            "error: there is no .github/slipway.yml at `main` ({})\n",
            &base[..12]
        )
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn a_bump_that_only_changes_the_digest_shows_the_digest_change() {
    // The same tag pushed again as another image: the pinned reference is all that changes.
    let tag = "0123456789abcdef0123456789abcdef01234567";
    let old = format!("{tag}@sha256:{}", "a".repeat(64));
    let new = format!("{tag}@sha256:{}", "b".repeat(64));
    let (repo, _) = config_repo();
    repo.write(
        "envs/dev/api.yaml",
        &app("dev", &old, "info", PASSWORD_BASE),
    );
    let base = repo.commit("dev pinned");
    repo.write(
        "envs/dev/api.yaml",
        &app("dev", &new, "info", PASSWORD_BASE),
    );
    let head = repo.commit("the tag was pushed again");

    let run = slipway(&[
        "preview",
        "--repo",
        path(&repo),
        "--base",
        &base,
        "--head",
        &head,
    ]);

    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "-        image: registry.example.com/team/api:{old}\n+        image: registry.example.com/team/api:{new}\n"
        )),
        "{}",
        run.stdout
    );
    let shown = run
        .stdout
        .replace(&base, "<base>")
        .replace(&head, "<head>")
        .replace(&base[..7], "<base>")
        .replace(&head[..7], "<head>");
    git_fixtures::assert_golden("preview_digest_only.md", &shown);
}
