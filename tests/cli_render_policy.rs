//! `slipway render` and environment policy: refused objects are printed, said on stderr, and
//! the exit status is 1.

mod git_fixtures;

use git_fixtures::{slipway, TestRepo};

#[test]
fn a_cluster_scoped_object_the_environment_does_not_allow_fails_the_render() {
    let repo = TestRepo::new();
    repo.write(
        ".github/slipway.yml",
        "environments:\n  dev:\n    path: envs/dev\n    namespace: team-dev\n",
    )
    .write(
        "envs/dev/rbac.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\n",
    );
    repo.commit("a cluster role");

    let run = slipway(&[
        "render",
        "--repo",
        repo.path().to_str().unwrap(),
        "--rev",
        "HEAD",
        "--env",
        "dev",
    ]);

    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "error: envs/dev/rbac.yaml:6: ClusterRole.rbac.authorization.k8s.io reader is cluster-scoped, and dev allows no cluster-scoped objects (list their kinds in allowed_cluster_scoped)\n"
    );
    assert!(
        run.stdout.contains("# Source: envs/dev/rbac.yaml:6\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"),
        "the refused object is still printed: {}",
        run.stdout
    );
}

#[test]
fn listing_the_kind_in_allowed_cluster_scoped_lets_it_render() {
    let repo = TestRepo::new();
    repo.write(
        ".github/slipway.yml",
        "environments:\n  dev:\n    path: envs/dev\n    namespace: team-dev\n    allowed_cluster_scoped: [ClusterRole]\n",
    )
    .write(
        "envs/dev/rbac.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\n",
    );
    repo.commit("an allowed cluster role");

    let run = slipway(&[
        "render",
        "--repo",
        repo.path().to_str().unwrap(),
        "--rev",
        "HEAD",
        "--env",
        "dev",
    ]);

    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
}
