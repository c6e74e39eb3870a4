//! Reading repositories at revisions, straight from the object database.

mod git_fixtures;

use git_fixtures::TestRepo;
use slipway::git::{EntryMode, GitError, LocalRepo, PathObject, PrefixMatch};
use slipway::render::{EntryKind, SourceError, TreeEntry, TreeSource};

fn two_commit_repo() -> (TestRepo, String, String) {
    let repo = TestRepo::new();
    repo.write("envs/dev/app.yaml", "first: 1\n");
    let first = repo.commit("first");
    repo.git(&["tag", "-a", "v1", "-m", "release v1"]);
    repo.write("envs/dev/app.yaml", "second: 2\n");
    let second = repo.commit("second");
    (repo, first, second)
}

#[test]
fn revisions_resolve_to_commits() {
    let (repo, first, second) = two_commit_repo();
    let local = LocalRepo::open(repo.path()).unwrap();
    assert_eq!(local.resolve("HEAD").unwrap().to_hex(), second);
    assert_eq!(local.resolve("main").unwrap().to_hex(), second);
    assert_eq!(local.resolve("HEAD~1").unwrap().to_hex(), first);
    assert_eq!(local.resolve(&first[..10]).unwrap().to_hex(), first);
    // An annotated tag is peeled to its commit.
    assert_eq!(local.resolve("v1").unwrap().to_hex(), first);
}

#[test]
fn unknown_revision_is_an_error_naming_it() {
    let (repo, _, _) = two_commit_repo();
    let local = LocalRepo::open(repo.path()).unwrap();
    let err = local.resolve("no-such-branch").unwrap_err();
    assert!(matches!(err, GitError::RevisionNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("`no-such-branch`"), "{err}");
}

#[test]
fn files_are_read_at_each_revision_without_a_checkout() {
    let (repo, first, _) = two_commit_repo();
    // The work tree differs from both commits: reads never look at it.
    repo.write("envs/dev/app.yaml", "uncommitted: 3\n");
    let local = LocalRepo::open(repo.path()).unwrap();
    let at = |rev: &str| local.read_file(rev, "envs/dev/app.yaml").unwrap().unwrap();
    assert_eq!(at(&first), b"first: 1\n");
    assert_eq!(at("HEAD"), b"second: 2\n");
    assert_eq!(
        local.read_file("HEAD", "envs/dev/missing.yaml").unwrap(),
        None
    );
}

#[test]
fn bare_repositories_read_the_same_as_work_trees() {
    let (repo, _, second) = two_commit_repo();
    let (_dir, bare) = repo.bare_clone();
    let local = LocalRepo::open(&bare).unwrap();
    assert_eq!(local.work_dir(), None);
    assert_eq!(local.resolve("main").unwrap().to_hex(), second);
    assert_eq!(
        local
            .read_file("main", "envs/dev/app.yaml")
            .unwrap()
            .unwrap(),
        b"second: 2\n"
    );
    assert!(LocalRepo::open(repo.path()).unwrap().work_dir().is_some());
}

#[test]
fn a_directory_that_is_no_repository_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    let err = LocalRepo::open(dir.path()).unwrap_err();
    assert!(matches!(err, GitError::Open { .. }), "{err:?}");
}

#[test]
fn trees_list_recursively_with_symlinks_and_their_targets() {
    let repo = TestRepo::new();
    repo.write("envs/dev/a.yaml", "a: 1\n")
        .write("envs/dev/nested/b.yml", "b: 2\n")
        .write("base/common.yaml", "c: 3\n")
        .symlink("envs/dev/common.yaml", "../../base/common.yaml");
    repo.commit("tree");
    let tree = LocalRepo::open(repo.path())
        .unwrap()
        .tree_at("HEAD")
        .unwrap();
    let listed = tree.list("envs").unwrap();
    let entry = |path: &str, kind: EntryKind| TreeEntry {
        path: path.into(),
        kind,
    };
    assert_eq!(
        listed,
        vec![
            entry("envs/dev", EntryKind::Dir),
            entry("envs/dev/a.yaml", EntryKind::File),
            entry(
                "envs/dev/common.yaml",
                EntryKind::Symlink {
                    target: "../../base/common.yaml".into()
                }
            ),
            entry("envs/dev/nested", EntryKind::Dir),
            entry("envs/dev/nested/b.yml", EntryKind::File),
        ]
    );
    assert_eq!(tree.read_file("envs/dev/nested/b.yml").unwrap(), b"b: 2\n");
    assert_eq!(tree.entry("envs").unwrap(), Some(EntryKind::Dir));
    assert_eq!(tree.entry("nope").unwrap(), None);
}

#[test]
fn tree_sources_refuse_paths_that_leave_the_repository() {
    let (repo, _, _) = two_commit_repo();
    let tree = LocalRepo::open(repo.path())
        .unwrap()
        .tree_at("HEAD")
        .unwrap();
    for path in ["../outside", "/etc/passwd", "envs/../../x", ".git/config"] {
        let err = tree.read_file(path).unwrap_err();
        assert!(
            matches!(err, SourceError::Escapes { .. }),
            "{path}: {err:?}"
        );
    }
}

#[test]
fn reading_a_directory_as_a_file_is_an_error() {
    let (repo, _, _) = two_commit_repo();
    let tree = LocalRepo::open(repo.path())
        .unwrap()
        .tree_at("HEAD")
        .unwrap();
    assert!(matches!(
        tree.read_file("envs/dev").unwrap_err(),
        SourceError::NotAFile { .. }
    ));
    assert!(matches!(
        tree.list("envs/dev/app.yaml").unwrap_err(),
        SourceError::NotADirectory { .. }
    ));
}

#[test]
fn a_git_tree_reports_its_commit() {
    let (repo, first, _) = two_commit_repo();
    let tree = LocalRepo::open(repo.path()).unwrap().tree_at("v1").unwrap();
    assert_eq!(tree.commit().to_hex(), first);
    assert!(
        tree.describe().contains(&first[..12]),
        "{}",
        tree.describe()
    );
}

#[test]
fn repositories_and_trees_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<LocalRepo>();
    shareable::<slipway::git::GitTree>();
    shareable::<slipway::git::Mirrors>();
    shareable::<slipway::render::DirSource>();

    // Base and head rendered side by side, as a preview does.
    let (repo, first, second) = two_commit_repo();
    let local = LocalRepo::open(repo.path()).unwrap();
    let (base, head) = (
        local.tree_at(&first).unwrap(),
        local.tree_at(&second).unwrap(),
    );
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| base.read_file("envs/dev/app.yaml").unwrap());
        let b = s.spawn(|| head.read_file("envs/dev/app.yaml").unwrap());
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(
        (a.as_slice(), b.as_slice()),
        (&b"first: 1\n"[..], &b"second: 2\n"[..])
    );
}

#[test]
fn a_path_through_a_file_is_simply_not_there() {
    let (repo, _, _) = two_commit_repo();
    let tree = LocalRepo::open(repo.path())
        .unwrap()
        .tree_at("HEAD")
        .unwrap();
    assert_eq!(tree.entry("envs/dev/app.yaml/inner").unwrap(), None);
    assert!(matches!(
        tree.read_file("envs/dev/app.yaml/inner").unwrap_err(),
        SourceError::NotFound { .. }
    ));
}

#[test]
fn a_hex_prefix_finds_one_commit_or_says_why_not() {
    let (repo, first, second) = two_commit_repo();
    // A branch named like hex is not taken for the commit.
    repo.git(&["branch", &first[..8], &second]);
    let local = LocalRepo::open(repo.path()).unwrap();
    let commit = |hex: &str| match local.commit_by_prefix(hex).unwrap() {
        PrefixMatch::Commit(id) => Some(id.to_hex()),
        _ => None,
    };
    assert_eq!(commit(&first[..8]), Some(first.clone()));
    assert_eq!(commit(&second), Some(second.clone()));
    assert_eq!(commit(&first[..7]), Some(first.clone()));

    let tree = repo.git(&["rev-parse", &format!("{first}^{{tree}}")]);
    assert_eq!(
        local.commit_by_prefix(&tree).unwrap(),
        PrefixMatch::NotACommit
    );

    // Blobs until two share their first four hex digits.
    let mut seen = std::collections::HashMap::new();
    let shared = (0..)
        .find_map(|n| {
            let path = format!("blob-{n}");
            repo.write(&path, &format!("{n}\n"));
            let blob = repo.git(&["hash-object", "-w", &path]);
            seen.insert(blob[..4].to_string(), blob.clone())
                .filter(|other| *other != blob)
                .map(|_| blob[..4].to_string())
        })
        .unwrap();
    assert_eq!(
        local.commit_by_prefix(&shared).unwrap(),
        PrefixMatch::Ambiguous
    );

    assert!(local
        .is_ancestor(
            &local.resolve(&first).unwrap(),
            &local.resolve(&second).unwrap()
        )
        .unwrap());
    assert!(!local
        .is_ancestor(
            &local.resolve(&second).unwrap(),
            &local.resolve(&first).unwrap()
        )
        .unwrap());
}

#[test]
fn the_object_at_a_path_is_the_same_exactly_when_its_content_is() {
    let (repo, first, second) = two_commit_repo();
    repo.write("envs/prod/app.yaml", "prod: 1\n");
    let third = repo.commit("third");
    let local = LocalRepo::open(repo.path()).unwrap();
    let at = |rev: &str, path: &str| local.tree_at(rev).unwrap().object_at(path).unwrap();

    let dev_first = at(&first, "envs/dev").unwrap();
    assert_eq!(dev_first.mode, EntryMode::Directory);
    assert_ne!(Some(dev_first), at(&second, "envs/dev"));
    assert_eq!(at(&second, "envs/dev"), at(&third, "envs/dev"));
    assert_eq!(at(&second, "envs/prod"), None);
    assert_eq!(
        at(&third, "envs/prod/app.yaml"),
        Some(PathObject {
            mode: EntryMode::File,
            id: repo.git(&["rev-parse", &format!("{third}:envs/prod/app.yaml")]),
        })
    );
}
