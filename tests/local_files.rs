//! The files `slipway serve` creates hold secrets — the database (the Secret fingerprint key,
//! every webhook payload) and `.env` (the App's private key): only slipway's user may read
//! them, whatever the umask, and so may the directories slipway creates for them.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::serve_process::ServeProcess;
use support::FakeGitHub;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn under_umask_022_the_database_env_file_and_their_directories_are_private() {
    let fake = FakeGitHub::builder()
        .with_manifest_code("code123", "secret-from-github")
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state/slipway");
    let config = dir.path().join("config");
    let database = state.join("slipway.db");
    let env_file = config.join(".env");
    let database_url = format!("sqlite://{}", database.display());
    let fake_url = fake.url();
    let env_path = env_file.display().to_string();
    let process = ServeProcess::start(
        dir.path(),
        "022",
        &[
            ("DATABASE_URL", &database_url),
            ("ENV_FILE", &env_path),
            ("GITHUB_API_URL", &fake_url),
            ("MIRROR_DIR", "mirrors"),
        ],
    );

    // SQLite keeps its -wal and -shm files while the server holds the database open.
    assert_eq!(mode(&state), 0o700, "a directory slipway created");
    assert_eq!(mode(&dir.path().join("state")), 0o700);
    assert_eq!(mode(&database), 0o600);
    for companion in ["slipway.db-wal", "slipway.db-shm"] {
        assert_eq!(mode(&state.join(companion)), 0o600, "{companion}");
    }

    // The setup flow writes .env into a directory that does not exist yet.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let ops_home = client
        .get(process.ops_url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = ops_home.find("/setup?token=").expect("the setup link");
    let link: String = ops_home[at..].chars().take_while(|c| *c != '"').collect();
    let page = client
        .get(format!("{}{link}", process.url()))
        .send()
        .await
        .unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let body = page.text().await.unwrap();
    let start = body.find("state=").unwrap() + "state=".len();
    let state_token: String = body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let done = client
        .get(format!(
            "{}/setup/callback?code=code123&state={state_token}",
            process.url()
        ))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status().as_u16(), 200);
    assert_eq!(mode(&config), 0o700);
    assert_eq!(mode(&env_file), 0o600);
}

#[tokio::test]
async fn a_database_left_readable_by_others_is_narrowed_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("slipway.db");
    std::fs::write(&database, b"").unwrap();
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).unwrap();
    let database_url = format!("sqlite://{}", database.display());
    let _process = ServeProcess::start(dir.path(), "022", &[("DATABASE_URL", &database_url)]);
    assert_eq!(mode(&database), 0o600);
    assert_eq!(mode(&dir.path().join("slipway.db-wal")), 0o600);
}
