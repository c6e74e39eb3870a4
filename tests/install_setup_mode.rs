//! The install (`manifests/base`) started as the kubelet would start it: the real `slipway`
//! binary with the Deployment's environment — its ConfigMap, its example Secret (empty keys
//! are set, as empty variables), its `env` — and its volumes as directories. With the example
//! credentials slipway is in setup mode, not crash-looping; the probes the Deployment names
//! answer 200, so the Service keeps routing the setup flow to the pod; the setup completes; and
//! the pod restarted with the same empty Secret keeps the App it was given.
//!
//! Skipped (with a note) when neither kustomize nor kubectl is installed.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Probe, Secret};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use slipway::config::parse_config_repo;
use slipway::render::{find_kustomize, render_environment, DirSource, K8sObject};
use support::serve_process::ServeProcess;
use support::FakeGitHub;

/// The objects `manifests/base` installs, built the way `slipway render` builds them.
fn base() -> Vec<K8sObject> {
    let source = DirSource::new(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("manifests"))
        .expect("manifests/ exists");
    let config = parse_config_repo("environments:\n  install:\n    path: base\n")
        .expect("a one-environment config parses");
    render_environment(&source, &config.environments["install"]).expect("manifests/base builds")
}

fn one<T: serde::de::DeserializeOwned>(objects: &[K8sObject], kind: &str, name: &str) -> T {
    let object = objects
        .iter()
        .find(|o| o.kind() == kind && o.name() == name)
        .unwrap_or_else(|| panic!("the install holds no {kind} {name}"));
    serde_json::from_value(object.value.clone()).expect("a valid object")
}

/// The pod as the install describes it, with each volume a directory of its own.
struct Pod {
    container: Container,
    /// The container's environment, in the kubelet's order: `envFrom` sources, then `env`.
    env: Vec<(String, String)>,
    _volumes: tempfile::TempDir,
}

impl Pod {
    fn from_install(objects: &[K8sObject]) -> Pod {
        let deployment: Deployment = one(objects, "Deployment", "slipway");
        let container = deployment
            .spec
            .and_then(|s| s.template.spec)
            .expect("a pod spec")
            .containers
            .remove(0);
        let volumes = tempfile::tempdir().unwrap();
        // Each mount path becomes a directory of the temporary tree (an optional Secret that
        // does not exist is an empty directory, as the kubelet mounts it).
        let mounts: Vec<(String, PathBuf)> = container
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| {
                let dir = volumes.path().join(&m.name);
                std::fs::create_dir_all(&dir).unwrap();
                (m.mount_path.clone(), dir)
            })
            .collect();
        let relocate = |value: &str| -> String {
            for (mount_path, dir) in &mounts {
                if let Some(rest) = value
                    .split_once(mount_path.as_str())
                    .filter(|(_, rest)| rest.is_empty() || rest.starts_with('/'))
                {
                    return format!("{}{}{}", rest.0, dir.display(), rest.1);
                }
            }
            value.to_string()
        };

        let mut env: Vec<(String, String)> = Vec::new();
        for source in container.env_from.iter().flatten() {
            if let Some(reference) = &source.config_map_ref {
                let map: ConfigMap = one(objects, "ConfigMap", &reference.name);
                env.extend(map.data.unwrap_or_default());
            }
            if let Some(reference) = &source.secret_ref {
                let secret: Secret = one(objects, "Secret", &reference.name);
                env.extend(
                    secret
                        .data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, String::from_utf8(v.0).expect("UTF-8"))),
                );
            }
        }
        for var in container.env.iter().flatten() {
            let value = var.value.clone().expect("plain values only");
            env.push((var.name.clone(), relocate(&value)));
        }
        Pod {
            container,
            env,
            _volumes: volumes,
        }
    }

    fn setting(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The container port a probe's named port stands for.
    fn probe_port(&self, probe: &Option<Probe>) -> (String, i32) {
        let get = probe
            .as_ref()
            .and_then(|p| p.http_get.clone())
            .expect("an HTTP probe");
        let IntOrString::String(name) = get.port else {
            panic!("probes name their port");
        };
        let number = self
            .container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port)
            .expect("the probe's port is declared");
        (get.path.expect("a path"), number)
    }

    /// `slipway serve` with this environment, on free loopback ports, against `github`.
    fn start(&self, dir: &Path, github: &FakeGitHub) -> ServeProcess {
        let github_url = github.url();
        let mut vars: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        vars.extend([
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("OPS_PORT", "0"),
            ("GITHUB_API_URL", github_url.as_str()),
        ]);
        ServeProcess::start(dir, "077", &vars)
    }
}

async fn get(url: &str) -> (u16, String) {
    let answer = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|err| panic!("GET {url}: {err}"));
    (answer.status().as_u16(), answer.text().await.unwrap())
}

#[tokio::test]
async fn the_install_starts_in_setup_mode_stays_routable_and_keeps_the_app_after_a_restart() {
    if find_kustomize().is_none() {
        eprintln!("note: skipped: neither kustomize nor kubectl is installed");
        return;
    }
    let objects = base();
    let pod = Pod::from_install(&objects);
    // The example credentials are set, and empty.
    for key in ["APP_ID", "PRIVATE_KEY", "WEBHOOK_SECRET"] {
        assert_eq!(pod.setting(key), Some(""), "{key}");
    }
    let public_url = pod.setting("PUBLIC_URL").expect("PUBLIC_URL").to_string();
    let github = FakeGitHub::builder()
        .with_manifest_code("code123", "secret-from-github")
        .start()
        .await;
    let workdir = tempfile::tempdir().unwrap();

    // Setup mode: it listens (no crash), and says so in its log with the setup link.
    let process = pod.start(workdir.path(), &github);
    let link_line = process
        .log
        .iter()
        .find(|line| line.contains("open this setup link"))
        .cloned()
        .expect("the setup link is logged");
    let logged: serde_json::Value = serde_json::from_str(&link_line).unwrap();
    let link = logged["url"].as_str().expect("the link").to_string();
    let token = link
        .strip_prefix(&format!("{public_url}/setup?token="))
        .unwrap_or_else(|| panic!("{link} is the setup page on PUBLIC_URL"));
    assert!(token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()));

    // The probes the Deployment names answer 200 on the ports it names: the kubelet keeps the
    // pod running and in the Service.
    let (liveness_path, liveness_port) = pod.probe_port(&pod.container.liveness_probe);
    let (readiness_path, readiness_port) = pod.probe_port(&pod.container.readiness_probe);
    let ops_port = pod.setting("OPS_PORT").expect("OPS_PORT");
    assert_eq!(readiness_port.to_string(), ops_port);
    assert_eq!(liveness_port.to_string(), ops_port);
    let (status, _) = get(&format!("{}{liveness_path}", process.ops_url())).await;
    assert_eq!(status, 200);
    let (status, body) = get(&format!("{}{readiness_path}", process.ops_url())).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.starts_with(&format!(
            "setup mode: no GitHub App credentials; finish the setup at {public_url}/setup"
        )),
        "{body}"
    );

    // The setup flow, through the port the Service routes to.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client
        .get(format!("{}/setup?token={token}", process.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let body = page.text().await.unwrap();
    let start = body.find("state=").expect("a state") + "state=".len();
    let state: String = body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let done = client
        .get(format!(
            "{}/setup/callback?code=code123&state={state}",
            process.url()
        ))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status().as_u16(), 200);
    let (_, body) = get(&format!("{}{readiness_path}", process.ops_url())).await;
    assert!(body.starts_with("ready"), "{body}");

    // The credentials are on the data volume, where ENV_FILE points.
    let env_file = PathBuf::from(pod.setting("ENV_FILE").expect("ENV_FILE"));
    let written: BTreeMap<String, String> = dotenvy::from_path_iter(&env_file)
        .expect("the setup flow wrote ENV_FILE")
        .map(|entry| entry.unwrap())
        .collect();
    assert_eq!(written["WEBHOOK_SECRET"], "secret-from-github");

    // The pod restarts with the same Secret, whose keys are still empty: the App is kept.
    drop(process);
    let restarted = pod.start(workdir.path(), &github);
    assert!(
        !restarted
            .log
            .iter()
            .any(|line| line.contains("open this setup link")),
        "setup mode again after a restart: {:#?}",
        restarted.log
    );
    let (status, body) = get(&format!("{}{readiness_path}", restarted.ops_url())).await;
    assert_eq!(status, 200);
    assert!(body.starts_with("ready"), "{body}");
    let (_, home) = get(&restarted.ops_url()).await;
    assert!(home.contains("GitHub App id <strong>"), "{home}");
    let (status, _) = get(&format!("{}/setup", restarted.url())).await;
    assert_eq!(status, 404, "no setup page once the App exists");
}
