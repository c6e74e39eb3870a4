//! Bare mirrors: created on first fetch, updated incrementally, one fetch at a time.

mod git_fixtures;

use std::sync::Arc;

use git_fixtures::TestRepo;
use slipway::git::{GitError, Mirrors, Remote};
use slipway::render::TreeSource;

fn upstream() -> (TestRepo, String) {
    let repo = TestRepo::new();
    repo.write("envs/dev/app.yaml", "version: 1\n");
    let first = repo.commit("first");
    (repo, first)
}

fn file_url(repo: &TestRepo) -> String {
    format!("file://{}", repo.path().display())
}

#[test]
fn first_fetch_creates_a_bare_mirror_with_branches_and_tags() {
    let (upstream, first) = upstream();
    upstream.git(&["tag", "v1"]);
    let cache = tempfile::tempdir().unwrap();
    let mirrors = Mirrors::new(cache.path()).unwrap();
    let url = file_url(&upstream);
    assert!(mirrors.open(&url).unwrap().is_none());

    let mirror = mirrors.fetch(&Remote::new(&url)).unwrap();
    assert_eq!(mirror.work_dir(), None, "mirrors are bare");
    assert!(mirror.git_dir().starts_with(cache.path()));
    assert_eq!(mirror.resolve("main").unwrap().to_hex(), first);
    assert_eq!(mirror.resolve("v1").unwrap().to_hex(), first);
    assert_eq!(
        mirror
            .read_file("main", "envs/dev/app.yaml")
            .unwrap()
            .unwrap(),
        b"version: 1\n"
    );
    assert!(mirrors.open(&url).unwrap().is_some());
}

#[test]
fn later_fetches_bring_new_commits_and_moved_branches() {
    let (upstream, first) = upstream();
    let cache = tempfile::tempdir().unwrap();
    let mirrors = Mirrors::new(cache.path()).unwrap();
    let remote = Remote::new(file_url(&upstream));
    mirrors.fetch(&remote).unwrap();

    upstream.write("envs/dev/app.yaml", "version: 2\n");
    let second = upstream.commit("second");
    upstream.git(&["branch", "feature", &first]);
    let mirror = mirrors.fetch(&remote).unwrap();
    assert_eq!(mirror.resolve("main").unwrap().to_hex(), second);
    assert_eq!(mirror.resolve("feature").unwrap().to_hex(), first);
    let tree = mirror.tree_at("main").unwrap();
    assert_eq!(
        tree.read_file("envs/dev/app.yaml").unwrap(),
        b"version: 2\n"
    );
}

#[test]
fn force_pushed_branches_follow_upstream() {
    let (upstream, first) = upstream();
    upstream.write("envs/dev/app.yaml", "version: 2\n");
    upstream.commit("second");
    let cache = tempfile::tempdir().unwrap();
    let mirrors = Mirrors::new(cache.path()).unwrap();
    let remote = Remote::new(file_url(&upstream));
    mirrors.fetch(&remote).unwrap();

    upstream.git(&["reset", "--hard", "--quiet", &first]);
    let mirror = mirrors.fetch(&remote).unwrap();
    assert_eq!(mirror.resolve("main").unwrap().to_hex(), first);
}

#[test]
fn plain_local_paths_are_remotes_too() {
    let (upstream, first) = upstream();
    let (_bare_dir, bare) = upstream.bare_clone();
    let cache = tempfile::tempdir().unwrap();
    let mirrors = Mirrors::new(cache.path()).unwrap();
    let mirror = mirrors.fetch(&Remote::new(bare.to_str().unwrap())).unwrap();
    assert_eq!(mirror.resolve("main").unwrap().to_hex(), first);
}

#[test]
fn each_url_gets_its_own_mirror() {
    let (a, a_first) = upstream();
    let (b, _) = upstream();
    b.write("envs/dev/app.yaml", "other\n");
    let b_head = b.commit("other");
    let cache = tempfile::tempdir().unwrap();
    let mirrors = Mirrors::new(cache.path()).unwrap();
    let ma = mirrors.fetch(&Remote::new(file_url(&a))).unwrap();
    let mb = mirrors.fetch(&Remote::new(file_url(&b))).unwrap();
    assert_ne!(ma.git_dir(), mb.git_dir());
    assert_eq!(ma.resolve("main").unwrap().to_hex(), a_first);
    assert_eq!(mb.resolve("main").unwrap().to_hex(), b_head);
}

#[test]
fn concurrent_fetches_of_one_mirror_all_succeed() {
    let (upstream, _) = upstream();
    for i in 0..5 {
        upstream.write(&format!("envs/dev/file{i}.yaml"), &format!("n: {i}\n"));
        upstream.commit(&format!("commit {i}"));
    }
    let head = upstream.git(&["rev-parse", "HEAD"]);
    let cache = tempfile::tempdir().unwrap();
    let mirrors = Arc::new(Mirrors::new(cache.path()).unwrap());
    let url = file_url(&upstream);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let mirrors = Arc::clone(&mirrors);
            let remote = Remote::new(url.clone());
            std::thread::spawn(move || mirrors.fetch(&remote).map(|m| m.resolve("main").unwrap()))
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap().unwrap().to_hex(), head);
    }
}

#[test]
fn fetching_from_a_missing_repository_fails_naming_the_url() {
    let cache = tempfile::tempdir().unwrap();
    let mirrors = Mirrors::new(cache.path()).unwrap();
    let url = format!("file://{}/nothing-here", cache.path().display());
    let err = mirrors.fetch(&Remote::new(&url)).unwrap_err();
    assert!(matches!(err, GitError::Fetch { .. }), "{err:?}");
    assert!(err.to_string().contains("nothing-here"), "{err}");
}

#[test]
fn extra_refspecs_fetch_pull_request_heads() {
    let (upstream, first) = upstream();
    upstream.write("envs/dev/app.yaml", "version: pr\n");
    let pr_head = upstream.commit("pr");
    upstream.git(&["update-ref", "refs/pull/7/head", &pr_head]);
    upstream.git(&["reset", "--hard", "--quiet", &first]);
    let cache = tempfile::tempdir().unwrap();
    let mirrors = Mirrors::new(cache.path()).unwrap();
    let remote = Remote::new(file_url(&upstream)).with_refspecs([
        "+refs/heads/*:refs/heads/*",
        "+refs/pull/*/head:refs/pull/*/head",
    ]);
    let mirror = mirrors.fetch(&remote).unwrap();
    assert_eq!(
        mirror.resolve("refs/pull/7/head").unwrap().to_hex(),
        pr_head
    );
    assert_eq!(mirror.resolve("main").unwrap().to_hex(), first);
}
