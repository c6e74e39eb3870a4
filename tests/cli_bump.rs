//! `slipway bump` end to end on a real work tree.

mod git_fixtures;

use git_fixtures::{slipway, TestRepo, CONFIG};

const DEPLOYMENT: &str = "\
# The API of team payments.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
        - name: api
          image: \"registry.example.com/team/api:1.4.0\"   # bumped by slipway
        - name: proxy
          image: envoyproxy/envoy:v1.30.1
";

const KUSTOMIZATION: &str = "\
resources:
  - ../../base   # shared with prod
images:
  - name: registry.example.com/team/api
    newTag: 1.4.0
";

fn repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.write(".github/slipway.yml", CONFIG)
        .write("envs/dev/deployment.yaml", DEPLOYMENT)
        .write("envs/prod/kustomization.yaml", KUSTOMIZATION)
        .write(
            "envs/prod/notes.txt",
            "image: registry.example.com/team/api:1.4.0\n",
        );
    repo.commit("initial");
    repo
}

fn path(repo: &TestRepo) -> &str {
    repo.path().to_str().unwrap()
}

#[test]
fn a_tag_bump_edits_the_work_tree_and_prints_each_edit() {
    let repo = repo();

    let run = slipway(&[
        "bump",
        "--repo",
        path(&repo),
        "--env",
        "dev",
        "--image",
        "registry.example.com/team/api",
        "--tag",
        "1.5.0",
    ]);

    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "envs/dev/deployment.yaml:11 registry.example.com/team/api:1.4.0 → registry.example.com/team/api:1.5.0\n"
    );
    assert_eq!(
        repo.read("envs/dev/deployment.yaml"),
        DEPLOYMENT.replace("api:1.4.0", "api:1.5.0")
    );
    assert_eq!(
        repo.git(&["status", "--porcelain"]),
        "M envs/dev/deployment.yaml"
    );
}

#[test]
fn a_kustomize_environment_gets_its_images_entry_bumped() {
    let repo = repo();

    let run = slipway(&[
        "bump",
        "--repo",
        path(&repo),
        "--env",
        "prod",
        "--image",
        "registry.example.com/team/api",
        "--tag",
        "1.5.0",
    ]);

    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        repo.read("envs/prod/kustomization.yaml"),
        KUSTOMIZATION.replace("1.4.0", "1.5.0")
    );
    assert_eq!(
        repo.read("envs/prod/notes.txt"),
        "image: registry.example.com/team/api:1.4.0\n"
    );
    assert_eq!(
        repo.read("envs/dev/deployment.yaml"),
        DEPLOYMENT,
        "other environments are untouched"
    );
}

#[test]
fn several_images_bump_in_one_call() {
    let repo = repo();
    let digest = format!("sha256:{}", "c0ffee00".repeat(8));

    let run = slipway(&[
        "bump",
        "--repo",
        path(&repo),
        "--env",
        "dev",
        "--image",
        "registry.example.com/team/api",
        "--digest",
        &digest,
        "--image",
        "envoyproxy/envoy",
        "--digest",
        &digest,
    ]);

    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 2);
    assert_eq!(
        repo.read("envs/dev/deployment.yaml"),
        DEPLOYMENT
            .replace(
                "registry.example.com/team/api:1.4.0",
                &format!("registry.example.com/team/api@{digest}")
            )
            .replace(
                "envoyproxy/envoy:v1.30.1",
                &format!("envoyproxy/envoy@{digest}")
            )
    );
}

#[test]
fn a_bump_to_the_current_tag_changes_nothing_and_succeeds() {
    let repo = repo();

    let run = slipway(&[
        "bump",
        "--repo",
        path(&repo),
        "--env",
        "dev",
        "--image",
        "registry.example.com/team/api",
        "--tag",
        "1.4.0",
    ]);

    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "no change: every image is already at its target in dev\n"
    );
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

#[test]
fn an_image_not_in_the_environment_fails_and_nothing_is_written() {
    let repo = repo();

    let run = slipway(&[
        "bump",
        "--repo",
        path(&repo),
        "--env",
        "dev",
        "--image",
        "registry.example.com/team/api",
        "--tag",
        "1.5.0",
        "--image",
        "registry.example.com/team/billing",
        "--tag",
        "2.0.0",
    ]);

    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "error: image registry.example.com/team/billing is not referenced in environment dev (looked for kustomization images entries, container images and Helm-values image blocks)\n"
    );
    assert_eq!(repo.git(&["status", "--porcelain"]), "", "all or nothing");
}

#[test]
fn tags_and_images_that_do_not_pair_up_are_a_usage_error() {
    let repo = repo();

    let run = slipway(&[
        "bump",
        "--repo",
        path(&repo),
        "--env",
        "dev",
        "--image",
        "registry.example.com/team/api",
        "--image",
        "envoyproxy/envoy",
        "--tag",
        "1.5.0",
    ]);

    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("2 --image but 1 --tag"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_tag_and_a_digest_together_pin_the_tag_in_an_image_field_and_a_kustomization() {
    let repo = repo();
    let digest = format!("sha256:{}", "c0ffee00".repeat(8));

    let dev = slipway(&[
        "bump",
        "--repo",
        path(&repo),
        "--env",
        "dev",
        "--image",
        "registry.example.com/team/api",
        "--tag",
        "1.5.0",
        "--digest",
        &digest,
    ]);
    let prod = slipway(&[
        "bump",
        "--repo",
        path(&repo),
        "--env",
        "prod",
        "--image",
        "registry.example.com/team/api",
        "--tag",
        "1.5.0",
        "--digest",
        &digest,
    ]);

    assert_eq!(dev.code, 0, "{}", dev.stderr);
    assert_eq!(
        dev.stdout,
        format!("envs/dev/deployment.yaml:11 registry.example.com/team/api:1.4.0 → registry.example.com/team/api:1.5.0@{digest}\n")
    );
    assert_eq!(
        repo.read("envs/dev/deployment.yaml"),
        DEPLOYMENT.replace("api:1.4.0", &format!("api:1.5.0@{digest}"))
    );
    assert_eq!(prod.code, 0, "{}", prod.stderr);
    assert_eq!(
        repo.read("envs/prod/kustomization.yaml"),
        KUSTOMIZATION.replace(
            "    newTag: 1.4.0\n",
            &format!("    newTag: 1.5.0\n    digest: {digest}\n")
        )
    );
}

#[test]
fn a_digest_count_that_does_not_match_the_images_is_a_usage_error() {
    let run = slipway(&[
        "bump",
        "--repo",
        ".",
        "--env",
        "dev",
        "--image",
        "x/y",
        "--image",
        "x/z",
        "--tag",
        "1",
        "--tag",
        "2",
        "--digest",
        "sha256:00",
    ]);

    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("2 --image but 1 --digest"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unknown_environment_is_an_error() {
    let repo = repo();

    let run = slipway(&[
        "bump",
        "--repo",
        path(&repo),
        "--env",
        "qa",
        "--image",
        "x/y",
        "--tag",
        "1",
    ]);

    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no environment `qa`"), "{}", run.stderr);
    assert!(run.stderr.contains("declared: dev, prod"));
}

/// A Helm environment: the chart's defaults and two values files, the last of which sets
/// the image; its templates mention the image too, but are never edited.
fn helm_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.write(
        ".github/slipway.yml",
        "environments:\n  prod:\n    path: chart\n    helm:\n      values: [values/common.yaml, values/prod.yaml]\n",
    )
    .write("chart/Chart.yaml", "apiVersion: v2\nname: api\nversion: 0.1.0\n")
    .write(
        "chart/values.yaml",
        "image:\n  repository: registry.example.com/team/api\n  tag: 1.0.0\n",
    )
    .write(
        "chart/templates/deployment.yaml",
        "# default image: registry.example.com/team/api\nimage: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n",
    )
    .write(
        "values/common.yaml",
        "image:\n  repository: registry.example.com/team/api\n  tag: 1.3.0\n",
    )
    .write(
        "values/prod.yaml",
        "# prod runs what was promoted\nimage:\n  repository: registry.example.com/team/api\n  tag: \"1.4.0\"   # pinned\nreplicas: 3\n",
    );
    repo.commit("initial");
    repo
}

#[test]
fn a_bump_of_a_helm_environment_edits_the_last_values_file_that_sets_the_image() {
    let repo = helm_repo();
    let run = slipway(&[
        "bump",
        "--repo",
        path(&repo),
        "--env",
        "prod",
        "--image",
        "registry.example.com/team/api",
        "--tag",
        "1.5.0",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "values/prod.yaml:4 registry.example.com/team/api:1.4.0 → registry.example.com/team/api:1.5.0\n"
    );
    assert_eq!(
        repo.read("values/prod.yaml"),
        "# prod runs what was promoted\nimage:\n  repository: registry.example.com/team/api\n  tag: \"1.5.0\"   # pinned\nreplicas: 3\n"
    );
    assert_eq!(
        repo.read("values/common.yaml"),
        "image:\n  repository: registry.example.com/team/api\n  tag: 1.3.0\n"
    );
    assert_eq!(
        repo.read("chart/values.yaml"),
        "image:\n  repository: registry.example.com/team/api\n  tag: 1.0.0\n"
    );
}

#[test]
fn a_bump_of_a_helm_environment_without_values_files_edits_the_chart_values() {
    let repo = helm_repo();
    repo.write(
        ".github/slipway.yml",
        "environments:\n  prod:\n    path: chart\n",
    );
    repo.commit("chart defaults only");
    let run = slipway(&[
        "bump",
        "--repo",
        path(&repo),
        "--env",
        "prod",
        "--image",
        "registry.example.com/team/api",
        "--tag",
        "1.5.0",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "chart/values.yaml:3 registry.example.com/team/api:1.0.0 → registry.example.com/team/api:1.5.0\n"
    );
}
