//! The build Job slipway creates for a push: rendered from the Kaniko or BuildKit template,
//! with user-controlled values escaped, the token kept in its Secret, and a stable name.
//!
//! Set `UPDATE_GOLDEN=1` to rewrite `tests/golden/build_job_*.yaml` after an intended change of
//! the templates.

mod git_fixtures;

use std::collections::HashMap;
use std::time::Duration;

use git_fixtures::assert_golden;
use serde_json::Value;
use slipway::cluster::build_job::{MAX_COMMIT_MESSAGE, TOKEN_KEY};
use slipway::cluster::names::{branch_tag, job_name, MAX_NAME};
use slipway::cluster::{render, BuildArg, BuildJobError, BuildSpec, BuildTemplate, Builder};
use slipway::settings::Settings;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const TOKEN: &str = "ghs_not-a-real-installation-token";
const HOSTILE: &str = "x\"}}\n  command: [sh]";

fn spec() -> BuildSpec {
    BuildSpec {
        repo: "acme/api".to_string(),
        clone_url: "https://github.com/acme/api.git".to_string(),
        sha: SHA.to_string(),
        branch: "main".to_string(),
        default_branch: "main".to_string(),
        commit_message: "Add the health endpoint".to_string(),
        attempt: 0,
        image: "registry.example.com/acme/api".to_string(),
        dockerfile: "docker/Dockerfile".to_string(),
        context: ".".to_string(),
        build_args: vec![BuildArg {
            key: "VERSION".to_string(),
            value: "1.2.3".to_string(),
        }],
        token: TOKEN.to_string(),
        namespace: "slipway-builds".to_string(),
        executor_image: "cgr.dev/chainguard/kaniko:latest".to_string(),
        registry_secret: "slipway-registry".to_string(),
        timeout: Duration::from_secs(30 * 60),
        run_id: Some(17),
    }
}

fn kaniko() -> BuildTemplate {
    BuildTemplate::builtin(Builder::Kaniko)
}

fn yaml<T: serde::Serialize>(object: &T) -> String {
    serde_yaml_ng::to_string(object).unwrap()
}

fn tree<T: serde::Serialize>(object: &T) -> Value {
    serde_json::to_value(object).unwrap()
}

/// The tree with every string equal to `from`, or containing it, rewritten to contain `to`.
fn swapped(value: &Value, from: &str, to: &str) -> Value {
    match value {
        Value::String(text) => Value::String(text.replace(from, to)),
        Value::Array(items) => Value::Array(items.iter().map(|v| swapped(v, from, to)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), swapped(v, from, to)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Every container of the pod, init containers first, in the order they run.
fn containers(objects: &slipway::cluster::BuildObjects) -> Vec<Value> {
    let job = tree(&objects.job);
    let pod = &job["spec"]["template"]["spec"];
    let mut all: Vec<Value> = pod["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    all.extend(pod["containers"].as_array().cloned().unwrap_or_default());
    all
}

/// The container that runs the Dockerfile (user code).
fn build_container(objects: &slipway::cluster::BuildObjects) -> Value {
    containers(objects)
        .into_iter()
        .find(|c| c["name"] == "build")
        .expect("a build container")
}

#[test]
fn kaniko_job_and_secret_match_the_golden_files() {
    let objects = render(&kaniko(), &spec()).unwrap();
    assert_golden("build_job_kaniko.yaml", &yaml(&objects.job));
    assert_golden("build_job_secret.yaml", &yaml(&objects.secret));
}

#[test]
fn buildkit_job_matches_the_golden_file() {
    let spec = BuildSpec {
        executor_image: "moby/buildkit:rootless".to_string(),
        ..spec()
    };
    let objects = render(&BuildTemplate::builtin(Builder::BuildKit), &spec).unwrap();
    assert_golden("build_job_buildkit.yaml", &yaml(&objects.job));
    let args = build_container(&objects)["args"].clone();
    assert!(
        args.as_array()
            .unwrap()
            .windows(2)
            .any(|pair| pair[0] == "--opt" && pair[1] == "build-arg:VERSION=1.2.3"),
        "{args}"
    );
}

#[test]
fn kaniko_builds_a_tarball_of_the_sha_tag_with_each_build_arg_a_separate_arg() {
    let objects = render(&kaniko(), &spec()).unwrap();
    let container = build_container(&objects);
    assert_eq!(
        container["command"],
        Value::Null,
        "the image's entrypoint runs, no shell"
    );
    assert_eq!(
        container["args"],
        serde_json::json!([
            "--context=dir:///workspace/.",
            "--dockerfile=/workspace/docker/Dockerfile",
            "--no-push",
            "--tar-path=/image/image.tar",
            format!("--destination=registry.example.com/acme/api:{SHA}"),
            "--build-arg=VERSION=1.2.3",
        ])
    );
    let push = containers(&objects).pop().expect("a push container");
    assert_eq!(push["name"], "push");
    let env = |name: &str| {
        push["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["value"].clone())
    };
    assert_eq!(
        env("DESTINATION"),
        Some(Value::String(format!(
            "registry.example.com/acme/api:{SHA}"
        )))
    );
    assert_eq!(
        env("IMAGE_TAR"),
        Some(Value::String("/image/image.tar".into()))
    );
}

#[test]
fn a_branch_build_pushes_only_its_branch_tag_never_a_sha_or_the_default_branch() {
    for builder in [Builder::Kaniko, Builder::BuildKit] {
        for branch in ["feature/login", SHA, "Main", "main-"] {
            let objects = render(
                &BuildTemplate::builtin(builder),
                &BuildSpec {
                    branch: branch.to_string(),
                    ..spec()
                },
            )
            .unwrap();
            let text = serde_json::to_string(&objects.job).unwrap();
            let tag = branch_tag(branch);
            assert!(tag.starts_with("branch"), "{tag}");
            assert!(
                text.contains(&format!("registry.example.com/acme/api:{tag}")),
                "{builder:?} {branch}: {text}"
            );
            assert!(
                !text.contains(&format!("registry.example.com/acme/api:{SHA}")),
                "{builder:?} {branch} pushes the sha tag"
            );
            assert!(!text.contains("registry.example.com/acme/api:main\""));
        }
    }
}

/// Every reference to the registry Secret in the pod: volumes made from it, and the containers
/// that mount such a volume or read it through env.
fn registry_secret_users(objects: &slipway::cluster::BuildObjects) -> Vec<String> {
    let job = tree(&objects.job);
    let pod = &job["spec"]["template"]["spec"];
    let volumes: Vec<String> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v.to_string().contains("slipway-registry"))
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    containers(objects)
        .iter()
        .filter(|c| {
            let mounts = c["volumeMounts"].as_array().cloned().unwrap_or_default();
            mounts
                .iter()
                .any(|m| volumes.contains(&m["name"].as_str().unwrap().to_string()))
                || c["env"].to_string().contains("slipway-registry")
                || c["envFrom"].to_string().contains("slipway-registry")
        })
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn only_the_push_step_which_runs_no_user_code_reaches_the_registry_credential() {
    for (builder, executor) in [
        (Builder::Kaniko, "cgr.dev/chainguard/kaniko:latest"),
        (Builder::BuildKit, "moby/buildkit:rootless"),
    ] {
        let spec = BuildSpec {
            executor_image: executor.to_string(),
            ..spec()
        };
        let objects = render(&BuildTemplate::builtin(builder), &spec).unwrap();
        assert_eq!(registry_secret_users(&objects), ["push"], "{builder:?}");
        let all = containers(&objects);
        let push = all.iter().find(|c| c["name"] == "push").unwrap();
        assert_ne!(push["image"], executor, "the push step is not the builder");
        assert!(
            !push["args"].to_string().contains("/workspace"),
            "the push step runs nothing from the source"
        );
        let build = build_container(&objects);
        assert_eq!(build["image"], executor);
        assert!(
            !build["env"].to_string().contains("DOCKER_CONFIG"),
            "{build}"
        );
        assert!(
            !build.to_string().contains("secretKeyRef") && build["envFrom"].is_null(),
            "the build step reads no Secret: {build}"
        );
        // The builder runs before the push, as an init step.
        let names: Vec<&str> = all.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["source", "build", "push"], "{builder:?}");
        assert_eq!(
            tree(&objects.job)["spec"]["template"]["spec"]["automountServiceAccountToken"],
            false
        );
        assert_eq!(push["terminationMessagePath"], "/dev/termination-log");
    }
}

#[test]
fn every_helper_image_is_pinned_by_digest() {
    for builder in [Builder::Kaniko, Builder::BuildKit] {
        let objects = render(&BuildTemplate::builtin(builder), &spec()).unwrap();
        for container in containers(&objects).iter().filter(|c| c["name"] != "build") {
            let image = container["image"].as_str().unwrap();
            let digest = image
                .split_once("@sha256:")
                .map(|(_, d)| d)
                .unwrap_or_default();
            assert!(
                digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
                "{builder:?}: {} runs {image}, not pinned by digest",
                container["name"]
            );
        }
    }
}

#[test]
fn a_template_that_gives_the_builder_the_registry_credential_is_refused() {
    let mounted = kaniko().source.replace(
        "            - name: image\n              mountPath: /image\n          resources:\n            requests: {cpu: \"500m\"",
        "            - name: image\n              mountPath: /image\n            - name: registry-credentials\n              mountPath: /kaniko/.docker\n          resources:\n            requests: {cpu: \"500m\"",
    );
    assert_ne!(mounted, kaniko().source, "the template was changed");
    let err = render(&override_with(&mounted), &spec()).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "renders a Job whose container \"build\" runs the Dockerfile and mounts the registry credential (volume \"registry-credentials\")"
        ),
        "{err}"
    );

    let env = kaniko().source.replace(
        "        - name: build\n          image: {{ executor_image }}\n",
        "        - name: build\n          image: {{ executor_image }}\n          env:\n            - name: REG\n              valueFrom:\n                secretKeyRef: {name: {{ registry_secret }}, key: .dockerconfigjson}\n",
    );
    assert_ne!(env, kaniko().source, "the template was changed");
    let err = render(&override_with(&env), &spec()).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("runs the Dockerfile and gets the registry credential through env \"REG\""),
        "{err}"
    );
}

#[test]
fn the_run_label_is_slipways_not_the_templates() {
    let mut template = kaniko();
    template.source = template.source.replace(
        "  annotations:\n",
        "  labels:\n    slipway.dev/run: \"999\"\n  annotations:\n",
    );
    assert!(
        template.source.contains("999"),
        "the template sets the label"
    );
    let with_run = tree(&render(&template, &spec()).unwrap().job);
    assert_eq!(with_run["metadata"]["labels"]["slipway.dev/run"], "17");
    let without = tree(
        &render(
            &template,
            &BuildSpec {
                run_id: None,
                ..spec()
            },
        )
        .unwrap()
        .job,
    );
    for labels in [
        &without["metadata"]["labels"],
        &without["spec"]["template"]["metadata"]["labels"],
    ] {
        assert!(labels.get("slipway.dev/run").is_none(), "{labels}");
    }
}

#[test]
fn the_job_runs_once_within_the_deadline_with_limits_and_labels() {
    let objects = render(&kaniko(), &spec()).unwrap();
    let job = tree(&objects.job);
    let name = job_name("acme/api", SHA, "main", 0);
    assert_eq!(job["metadata"]["name"], name.as_str());
    assert_eq!(job["metadata"]["namespace"], "slipway-builds");
    assert_eq!(job["spec"]["backoffLimit"], 0);
    assert_eq!(job["spec"]["activeDeadlineSeconds"], 1800);
    assert_eq!(job["spec"]["ttlSecondsAfterFinished"], 3600);
    for labels in [
        &job["metadata"]["labels"],
        &job["spec"]["template"]["metadata"]["labels"],
    ] {
        assert_eq!(labels["slipway.dev/repo"], "acme.api");
        assert_eq!(labels["slipway.dev/sha"], SHA);
        assert_eq!(labels["slipway.dev/build"], name.as_str());
        assert_eq!(
            labels["slipway.dev/run"], "17",
            "pods map back to their run"
        );
    }
    let pod = &job["spec"]["template"]["spec"];
    for container in [
        &pod["initContainers"][0],
        &pod["initContainers"][1],
        &pod["containers"][0],
    ] {
        assert!(
            container["resources"]["limits"]["memory"].is_string(),
            "{container}"
        );
        assert!(
            container["resources"]["requests"]["cpu"].is_string(),
            "{container}"
        );
    }
}

#[test]
fn a_hostile_branch_name_changes_only_the_values_it_reaches() {
    let plain = render(&kaniko(), &spec()).unwrap();
    let hostile = render(
        &kaniko(),
        &BuildSpec {
            branch: HOSTILE.to_string(),
            ..spec()
        },
    )
    .unwrap();
    let annotations = &tree(&hostile.job)["metadata"]["annotations"];
    assert_eq!(annotations["slipway.dev/branch"], HOSTILE);
    // The branch reaches the Job as the annotation, as the image tag (slugged and hashed),
    // and in the Job's name (hashed): nothing else.
    let plain_name = job_name("acme/api", SHA, "main", 0);
    let hostile_name = job_name("acme/api", SHA, HOSTILE, 0);
    let renamed = swapped(&tree(&plain.job), &plain_name, &hostile_name);
    let mut expected = swapped(
        &renamed,
        &format!("api:{SHA}"),
        &format!("api:{}", branch_tag(HOSTILE)),
    );
    expected["metadata"]["annotations"]["slipway.dev/branch"] = Value::String(HOSTILE.into());
    assert_eq!(tree(&hostile.job), expected);
}

#[test]
fn a_hostile_commit_message_stays_one_annotation() {
    let plain = render(&kaniko(), &spec()).unwrap();
    let hostile = render(
        &kaniko(),
        &BuildSpec {
            commit_message: HOSTILE.to_string(),
            ..spec()
        },
    )
    .unwrap();
    let mut expected = tree(&plain.job);
    expected["metadata"]["annotations"]["slipway.dev/commit-message"] =
        Value::String(HOSTILE.into());
    assert_eq!(tree(&hostile.job), expected);
}

#[test]
fn a_huge_commit_message_is_cut_to_fit_an_annotation() {
    let objects = render(
        &kaniko(),
        &BuildSpec {
            commit_message: "é".repeat(300_000),
            ..spec()
        },
    )
    .unwrap();
    let annotations = &tree(&objects.job)["metadata"]["annotations"];
    assert_eq!(
        annotations["slipway.dev/commit-message"],
        "é".repeat(MAX_COMMIT_MESSAGE).as_str()
    );
}

#[test]
fn a_hostile_build_arg_is_one_argument_and_expands_nothing() {
    let value = format!("{HOSTILE} $(GIT_TOKEN)");
    for (template, flag) in [
        (kaniko(), "--build-arg=VERSION="),
        (
            BuildTemplate::builtin(Builder::BuildKit),
            "build-arg:VERSION=",
        ),
    ] {
        let plain = render(&template, &spec()).unwrap();
        let hostile = render(
            &template,
            &BuildSpec {
                build_args: vec![BuildArg {
                    key: "VERSION".to_string(),
                    value: value.clone(),
                }],
                ..spec()
            },
        )
        .unwrap();
        // `$$` is how Kubernetes spells a literal `$` in args: the token is never substituted.
        let escaped = format!("{flag}{HOSTILE} $$(GIT_TOKEN)");
        let expected = swapped(&tree(&plain.job), &format!("{flag}1.2.3"), &escaped);
        assert_eq!(tree(&hostile.job), expected, "{}", template.name);
        let args = build_container(&hostile)["args"].clone();
        assert!(
            args.as_array().unwrap().contains(&Value::String(escaped)),
            "{args}"
        );
    }
}

#[test]
fn a_hostile_repo_name_is_a_valid_label_and_an_intact_annotation() {
    let repo = "acme/api\"}}\n  x: [sh]";
    let objects = render(
        &kaniko(),
        &BuildSpec {
            repo: repo.to_string(),
            ..spec()
        },
    )
    .unwrap();
    let job = tree(&objects.job);
    assert_eq!(job["metadata"]["annotations"]["slipway.dev/repo"], repo);
    assert_eq!(
        job["metadata"]["labels"]["slipway.dev/repo"],
        "acme.api______x___sh"
    );
}

#[test]
fn the_token_is_only_in_the_secret_the_job_references() {
    for builder in [Builder::Kaniko, Builder::BuildKit] {
        let objects = render(&BuildTemplate::builtin(builder), &spec()).unwrap();
        let job = yaml(&objects.job) + &serde_json::to_string(&objects.job).unwrap();
        assert!(!job.contains(TOKEN), "{builder:?}: the Job holds the token");
        assert!(!format!("{:?}", spec()).contains(TOKEN));

        let secret = tree(&objects.secret);
        assert_eq!(secret["stringData"][TOKEN_KEY], TOKEN);
        let secret_name = objects.secret.metadata.name.clone().unwrap();
        let reference = &tree(&objects.job)["spec"]["template"]["spec"]["initContainers"][0]["env"]
            [0]["valueFrom"]["secretKeyRef"];
        assert_eq!(reference["name"], secret_name.as_str());
        assert_eq!(reference["key"], TOKEN_KEY);
    }
}

#[test]
fn the_secret_is_owned_by_the_job_once_it_exists() {
    let mut objects = render(&kaniko(), &spec()).unwrap();
    objects.own_secret("5d3c9a1e-0000-4000-8000-000000000001");
    let owner = &tree(&objects.secret)["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "Job");
    assert_eq!(owner["apiVersion"], "batch/v1");
    assert_eq!(owner["name"], job_name("acme/api", SHA, "main", 0).as_str());
    assert_eq!(owner["uid"], "5d3c9a1e-0000-4000-8000-000000000001");
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[test]
fn job_names_are_stable_dns_labels_that_differ_by_attempt_and_branch() {
    let first = job_name("acme/api", SHA, "main", 0);
    assert_eq!(first, job_name("acme/api", SHA, "main", 0));
    assert_ne!(first, job_name("acme/api", SHA, "main", 1));
    assert_ne!(first, job_name("acme/web", SHA, "main", 0));
    assert_ne!(first, job_name("other/api", SHA, "main", 0));
    assert_ne!(
        first,
        job_name("acme/api", SHA, "feature", 0),
        "a branch build of the same commit pushes other tags: never adopted"
    );
    assert!(first.starts_with("build-api-0123456-"), "{first}");
    let long = format!("Acme/{}", "Very_Long.Repository-Name".repeat(5));
    for name in [
        first,
        job_name(&long, SHA, "main", 7),
        job_name("x/---", SHA, HOSTILE, 0),
    ] {
        assert!(is_dns_label(&name), "{name}");
    }
}

#[test]
fn a_template_directory_overrides_the_builtin_template() {
    let dir = tempfile::tempdir().unwrap();
    let custom = kaniko().source.replace(
        "ttlSecondsAfterFinished: 3600",
        "ttlSecondsAfterFinished: 60",
    );
    std::fs::write(dir.path().join("build-job.yaml"), custom).unwrap();
    let template = BuildTemplate::load(Some(dir.path()), Builder::Kaniko).unwrap();
    let objects = render(&template, &spec()).unwrap();
    assert_eq!(tree(&objects.job)["spec"]["ttlSecondsAfterFinished"], 60);

    let missing = BuildTemplate::load(Some(dir.path()), Builder::BuildKit).unwrap_err();
    let message = missing.to_string();
    assert!(
        message.starts_with("cannot read the build template ")
            && message.contains("build-job-buildkit.yaml"),
        "{message}"
    );
}

fn override_with(text: &str) -> BuildTemplate {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("build-job.yaml"), text).unwrap();
    BuildTemplate::load(Some(dir.path()), Builder::Kaniko).unwrap()
}

#[test]
fn a_template_syntax_error_names_the_file_and_line() {
    let template =
        override_with("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ job_name\n");
    let err = render(&template, &spec()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "{}:4: the build template does not parse: ",
            template.name
        )),
        "{message}"
    );
}

#[test]
fn a_template_that_is_not_a_job_names_the_file_line_and_column() {
    let source = kaniko()
        .source
        .replace("  backoffLimit: 0\n", "  backoffLimit: [0]\n");
    let line = source
        .lines()
        .position(|line| line == "  backoffLimit: [0]")
        .unwrap()
        + 1;
    let template = override_with(&source);
    let err = render(&template, &spec()).unwrap_err();
    let BuildJobError::InvalidJob { file, line: at, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(file, &template.name);
    assert_eq!(*at, line, "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}:{line}:17: the build template does not render a valid Job: spec.backoffLimit: invalid type: sequence, expected i32",
            template.name
        )
    );
}

#[test]
fn a_template_without_resource_limits_is_refused() {
    let source = kaniko()
        .source
        .replace("            limits: {cpu: \"2\", memory: \"4Gi\"}\n", "");
    let err = render(&override_with(&source), &spec()).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("renders a Job whose container \"build\" has no resource limits"),
        "{err}"
    );
}

#[test]
fn a_malformed_sha_image_or_build_arg_name_is_refused() {
    let bad_sha = render(
        &kaniko(),
        &BuildSpec {
            sha: "main".to_string(),
            ..spec()
        },
    )
    .unwrap_err();
    assert_eq!(
        bad_sha.to_string(),
        "cannot build the commit: \"main\" is not a 40-digit commit SHA"
    );
    let tagged = render(
        &kaniko(),
        &BuildSpec {
            image: "registry.example.com/acme/api:latest".to_string(),
            ..spec()
        },
    )
    .unwrap_err();
    assert!(
        tagged.to_string().starts_with(
            "cannot build image \"registry.example.com/acme/api:latest\": carries the tag"
        ),
        "{tagged}"
    );
    let arg = render(
        &kaniko(),
        &BuildSpec {
            build_args: vec![BuildArg {
                key: "A=B".to_string(),
                value: "c".to_string(),
            }],
            ..spec()
        },
    )
    .unwrap_err();
    assert!(
        arg.to_string()
            .starts_with("cannot build the build args: \"A=B\" is not a build arg name"),
        "{arg}"
    );
}

fn settings(pairs: &[(&str, &str)]) -> Result<Settings, String> {
    let vars: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_vars(&vars).map_err(|err| err.to_string())
}

#[test]
fn build_settings_default_to_kaniko_in_slipway_builds_for_thirty_minutes() {
    let build = settings(&[]).unwrap().build;
    assert_eq!(build.namespace, "slipway-builds");
    assert_eq!(build.builder, Builder::Kaniko);
    assert_eq!(build.executor_image, "cgr.dev/chainguard/kaniko:latest");
    assert_eq!(build.registry_secret, "slipway-registry");
    assert_eq!(build.timeout, Duration::from_secs(1800));
    assert_eq!(build.concurrency, 4);
    assert_eq!(build.template_dir, None);
}

#[test]
fn switching_to_buildkit_is_one_setting() {
    let build = settings(&[("BUILD_BUILDER", "buildkit"), ("BUILD_TIMEOUT", "1h30m")])
        .unwrap()
        .build;
    assert_eq!(build.executor_image, "moby/buildkit:rootless");
    assert_eq!(build.timeout, Duration::from_secs(5400));
    let template = BuildTemplate::load(build.template_dir.as_deref(), build.builder).unwrap();
    assert_eq!(template, BuildTemplate::builtin(Builder::BuildKit));
}

#[test]
fn bad_build_settings_are_one_clear_line() {
    assert_eq!(
        settings(&[("BUILD_TIMEOUT", "30 minutes")]).err().unwrap(),
        "BUILD_TIMEOUT is not a duration: `30 minutes` is not a duration; use whole numbers with units h, m, s, largest first, e.g. `90s`, `5m`, `1h30m`"
    );
    assert_eq!(
        settings(&[("BUILD_CONCURRENCY", "0")]).err().unwrap(),
        "BUILD_CONCURRENCY must be a positive number, got \"0\""
    );
    assert_eq!(
        settings(&[("BUILD_CONCURRENCY", "many")]).err().unwrap(),
        "BUILD_CONCURRENCY must be a positive number, got \"many\""
    );
    assert_eq!(
        settings(&[("BUILD_BUILDER", "docker")]).err().unwrap(),
        "BUILD_BUILDER must be kaniko or buildkit, got \"docker\""
    );
    assert_eq!(
        settings(&[("BUILD_NAMESPACE", "Builds")]).err().unwrap(),
        "BUILD_NAMESPACE must be a namespace name (lowercase letters, digits and `-`, at most 63), got \"Builds\""
    );
}

#[tokio::test]
async fn without_a_cluster_connect_says_none_is_configured() {
    slipway::install_crypto_provider();
    let home = tempfile::tempdir().unwrap();
    // Not in a pod (no service-account env) and no kubeconfig anywhere this process looks.
    let _guard = EnvGuard::set(&[
        (
            "KUBECONFIG",
            Some(home.path().join("missing").to_str().unwrap()),
        ),
        ("HOME", Some(home.path().to_str().unwrap())),
        ("KUBERNETES_SERVICE_HOST", None),
        ("KUBERNETES_SERVICE_PORT", None),
    ]);
    let Err(err) = slipway::cluster::connect(None).await else {
        panic!("a client was built without any cluster configuration");
    };
    let message = err.to_string();
    assert!(
        message.starts_with("no cluster configured: not running in a pod, and no kubeconfig ("),
        "{message}"
    );
}

/// Sets variables for one test and restores them. The other tests of this binary read none of
/// them, and read the environment only through `std`, which locks it.
struct EnvGuard(Vec<(String, Option<String>)>);

impl EnvGuard {
    fn set(pairs: &[(&str, Option<&str>)]) -> Self {
        let saved = pairs
            .iter()
            .map(|(name, _)| (name.to_string(), std::env::var(name).ok()))
            .collect();
        for (name, value) in pairs {
            // SAFETY: no other test in this binary reads or writes these variables, and the
            // rest read the environment only through `std`, which serialises access.
            unsafe {
                match value {
                    Some(value) => std::env::set_var(name, value),
                    None => std::env::remove_var(name),
                }
            }
        }
        EnvGuard(saved)
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        for (name, value) in &self.0 {
            // SAFETY: as in `set`.
            unsafe {
                match value {
                    Some(value) => std::env::set_var(name, value),
                    None => std::env::remove_var(name),
                }
            }
        }
    }
}
