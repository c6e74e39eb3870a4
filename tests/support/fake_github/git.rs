//! Git plumbing on the fake's bare repositories: what GitHub's Git Data API does, done with
//! the `git` command line so tests can read the result back from the real repository.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `git --git-dir BARE args…` isolated from any user configuration; stdout on success,
/// stderr on failure.
pub fn git(bare: &Path, args: &[&str], stdin: Option<&[u8]>) -> Result<String, String> {
    git_env(bare, args, stdin, &[])
}

pub fn git_env(
    bare: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    env: &[(&str, &str)],
) -> Result<String, String> {
    let mut command = Command::new("git");
    command
        .arg("--git-dir")
        .arg(bare)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(bytes).map_err(|e| e.to_string())?;
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

/// The commit a full ref name points at.
pub fn resolve_ref(bare: &Path, full_ref: &str) -> Option<String> {
    git(
        bare,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{full_ref}^{{commit}}"),
        ],
        None,
    )
    .ok()
}

/// The type of an object (`blob`, `tree`, `commit`), if it exists.
pub fn object_type(bare: &Path, sha: &str) -> Option<String> {
    git(bare, &["cat-file", "-t", sha], None).ok()
}

pub fn write_blob(bare: &Path, bytes: &[u8]) -> Result<String, String> {
    git(bare, &["hash-object", "-w", "--stdin"], Some(bytes))
}

/// One entry of `POST …/git/trees`: a path set to a blob or to a tree (a whole directory), or
/// deleted with whatever it held (`sha: None`).
pub struct TreeEdit {
    pub path: String,
    pub mode: String,
    /// `blob` or `tree`.
    pub kind: String,
    pub sha: Option<String>,
}

/// A new tree: `base_tree` (or nothing) with `edits` applied, through a temporary index.
pub fn write_tree(
    bare: &Path,
    base_tree: Option<&str>,
    edits: &[TreeEdit],
) -> Result<String, String> {
    // A scratch index (and an empty work tree, which index commands insist on even though
    // they never touch it) next to nothing else.
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let index_path = scratch.path().join("index").to_string_lossy().to_string();
    let work_tree = scratch.path().to_string_lossy().to_string();
    let env = [
        ("GIT_INDEX_FILE", index_path.as_str()),
        ("GIT_WORK_TREE", work_tree.as_str()),
    ];
    let result = (|| {
        match base_tree {
            Some(tree) => git_env(bare, &["read-tree", tree], None, &env)?,
            None => git_env(bare, &["read-tree", "--empty"], None, &env)?,
        };
        for edit in edits {
            // What the path held goes first: a file, or every file of a directory.
            git_env(
                bare,
                &[
                    "rm",
                    "--cached",
                    "-r",
                    "-q",
                    "--ignore-unmatch",
                    "--",
                    &edit.path,
                ],
                None,
                &env,
            )?;
            match &edit.sha {
                Some(sha) if edit.kind == "tree" => {
                    git_env(
                        bare,
                        &["read-tree", &format!("--prefix={}/", edit.path), sha],
                        None,
                        &env,
                    )?;
                }
                Some(sha) => {
                    git_env(
                        bare,
                        &[
                            "update-index",
                            "--add",
                            "--cacheinfo",
                            &format!("{},{},{}", edit.mode, sha, edit.path),
                        ],
                        None,
                        &env,
                    )?;
                }
                None => {}
            }
        }
        git_env(bare, &["write-tree"], None, &env)
    })();
    result
}

/// A commit of `tree` with `parents`, authored and committed by `name <email>` at `date`.
pub fn commit_tree(
    bare: &Path,
    tree: &str,
    parents: &[String],
    message: &str,
    name: &str,
    email: &str,
) -> Result<String, String> {
    let mut args = vec!["commit-tree".to_string(), tree.to_string()];
    for parent in parents {
        args.push("-p".to_string());
        args.push(parent.clone());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    git_env(
        bare,
        &args,
        Some(message.as_bytes()),
        &[
            ("GIT_AUTHOR_NAME", name),
            ("GIT_AUTHOR_EMAIL", email),
            ("GIT_COMMITTER_NAME", name),
            ("GIT_COMMITTER_EMAIL", email),
        ],
    )
}

/// `(tree, parents)` of a commit.
pub fn commit_info(bare: &Path, sha: &str) -> Option<(String, Vec<String>, String)> {
    if object_type(bare, sha)?.as_str() != "commit" {
        return None;
    }
    let tree = git(bare, &["rev-parse", &format!("{sha}^{{tree}}")], None).ok()?;
    let line = git(bare, &["rev-list", "--parents", "-n", "1", sha], None).ok()?;
    let parents = line
        .split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect();
    let message = git(bare, &["log", "-1", "--format=%B", sha], None).ok()?;
    Some((tree, parents, message))
}

pub fn is_ancestor(bare: &Path, ancestor: &str, descendant: &str) -> bool {
    git(
        bare,
        &["merge-base", "--is-ancestor", ancestor, descendant],
        None,
    )
    .is_ok()
}

/// Moves `full_ref` to `new`, only if it still points at `old` (`None`: it must not exist).
pub fn update_ref(bare: &Path, full_ref: &str, new: &str, old: Option<&str>) -> Result<(), String> {
    let zero = "0".repeat(40);
    git(
        bare,
        &["update-ref", full_ref, new, old.unwrap_or(&zero)],
        None,
    )
    .map(|_| ())
}

/// The commits of `base..head`, oldest first (what a pull request from `head` into a branch
/// at `base` shows as its commits).
pub fn commits_between(bare: &Path, base: &str, head: &str) -> Result<Vec<String>, String> {
    let listed = git(
        bare,
        &[
            "rev-list",
            "--reverse",
            "--topo-order",
            &format!("{base}..{head}"),
        ],
        None,
    )?;
    Ok(listed.lines().map(str::to_string).collect())
}

const GITHUB_COMMITTER: [(&str, &str); 2] = [
    ("GIT_COMMITTER_NAME", "GitHub"),
    ("GIT_COMMITTER_EMAIL", "noreply@github.com"),
];

/// Squashes `head` onto branch `base` as GitHub's "Squash and merge" does: one commit whose
/// only parent is the base tip, holding the merged tree; the branch moves to it.
pub fn squash_into(bare: &Path, base: &str, head: &str, message: &str) -> Result<String, String> {
    let base_ref = format!("refs/heads/{base}");
    let base_sha = resolve_ref(bare, &base_ref).ok_or_else(|| format!("no branch {base}"))?;
    let tree = git(bare, &["merge-tree", "--write-tree", &base_sha, head], None)?;
    let tree = tree.lines().next().unwrap_or_default().to_string();
    let env = [
        ("GIT_AUTHOR_NAME", "GitHub"),
        ("GIT_AUTHOR_EMAIL", "noreply@github.com"),
        GITHUB_COMMITTER[0],
        GITHUB_COMMITTER[1],
    ];
    let squash = git_env(
        bare,
        &["commit-tree", &tree, "-p", &base_sha, "-m", message],
        None,
        &env,
    )?;
    git(bare, &["update-ref", &base_ref, &squash, &base_sha], None)?;
    Ok(squash)
}

/// Rebases the commits of `base..head` onto branch `base` as GitHub's "Rebase and merge"
/// does: each re-created on the one before (the first on the base tip) with its author and
/// message kept, GitHub as committer; the branch moves to the last. The re-created commits,
/// oldest first. A merge commit among them or a conflict is an error, as on GitHub.
pub fn rebase_onto(bare: &Path, base: &str, head: &str) -> Result<Vec<String>, String> {
    let base_ref = format!("refs/heads/{base}");
    let base_sha = resolve_ref(bare, &base_ref).ok_or_else(|| format!("no branch {base}"))?;
    let mut tip = base_sha.clone();
    let mut created = Vec::new();
    for commit in commits_between(bare, &base_sha, head)? {
        let parents = git(bare, &["rev-list", "--parents", "-n", "1", &commit], None)?;
        let parents: Vec<&str> = parents.split_whitespace().skip(1).collect();
        let [parent] = parents.as_slice() else {
            return Err(format!(
                "{commit} is a merge commit: GitHub cannot rebase it"
            ));
        };
        let tree = git(
            bare,
            &[
                "merge-tree",
                "--write-tree",
                "--merge-base",
                parent,
                &tip,
                &commit,
            ],
            None,
        )
        .map_err(|err| format!("{commit} does not rebase cleanly: {err}"))?;
        let tree = tree.lines().next().unwrap_or_default().to_string();
        let field = |format: &str| {
            git(
                bare,
                &["show", "-s", &format!("--format={format}"), &commit],
                None,
            )
            .map(|text| text.trim_end_matches('\n').to_string())
        };
        let (name, email, date, message) =
            (field("%an")?, field("%ae")?, field("%aD")?, field("%B")?);
        let env = [
            ("GIT_AUTHOR_NAME", name.as_str()),
            ("GIT_AUTHOR_EMAIL", email.as_str()),
            ("GIT_AUTHOR_DATE", date.as_str()),
            GITHUB_COMMITTER[0],
            GITHUB_COMMITTER[1],
        ];
        tip = git_env(
            bare,
            &["commit-tree", &tree, "-p", &tip, "-m", &message],
            None,
            &env,
        )?;
        created.push(tip.clone());
    }
    if created.is_empty() {
        return Err("nothing to rebase".to_string());
    }
    git(bare, &["update-ref", &base_ref, &tip, &base_sha], None)?;
    Ok(created)
}

/// Merges `head` into branch `base` as GitHub's merge button does (a merge commit with the
/// base as first parent) and moves the branch; the merge commit's sha. Conflicts are an error.
pub fn merge_into(bare: &Path, base: &str, head: &str, message: &str) -> Result<String, String> {
    let base_ref = format!("refs/heads/{base}");
    let base_sha = resolve_ref(bare, &base_ref).ok_or_else(|| format!("no branch {base}"))?;
    let tree = git(bare, &["merge-tree", "--write-tree", &base_sha, head], None)?;
    let tree = tree.lines().next().unwrap_or_default().to_string();
    let author = [
        ("GIT_AUTHOR_NAME", "GitHub"),
        ("GIT_AUTHOR_EMAIL", "noreply@github.com"),
        ("GIT_COMMITTER_NAME", "GitHub"),
        ("GIT_COMMITTER_EMAIL", "noreply@github.com"),
    ];
    let merge = git_env(
        bare,
        &[
            "commit-tree",
            &tree,
            "-p",
            &base_sha,
            "-p",
            head,
            "-m",
            message,
        ],
        None,
        &author,
    )?;
    git(bare, &["update-ref", &base_ref, &merge, &base_sha], None)?;
    Ok(merge)
}
