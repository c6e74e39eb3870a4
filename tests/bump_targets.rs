//! Which references a bump edits, and when it refuses.

mod manifests;

use manifests::bump;
use slipway::bump::{BumpError, BumpRequest};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: registry.example.com/team/api:1.4.0
      containers:
        - name: api
          image: registry.example.com/team/api:1.4.0
        - name: proxy
          image: envoyproxy/envoy:v1.30.1
";

const KUSTOMIZATION: &str = "\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: registry.example.com/team/api
    newTag: 1.4.0 # set by slipway
";

#[test]
fn a_kustomization_images_entry_takes_precedence_over_the_manifests_it_overrides() {
    let (edits, after) = bump(
        &[
            ("envs/dev/deployment.yaml", DEPLOYMENT),
            ("envs/dev/kustomization.yaml", KUSTOMIZATION),
        ],
        &[BumpRequest::tag("registry.example.com/team/api", "1.5.0")],
    )
    .unwrap();

    assert_eq!(after[0], DEPLOYMENT);
    assert_eq!(
        after[1],
        KUSTOMIZATION.replace("newTag: 1.4.0", "newTag: 1.5.0")
    );
    assert_eq!(
        edits.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["envs/dev/kustomization.yaml:7 registry.example.com/team/api:1.4.0 → registry.example.com/team/api:1.5.0"]
    );
}

#[test]
fn an_images_entry_is_found_by_its_new_name_too() {
    let kustomization =
        "images:\n- name: api\n  newName: registry.example.com/team/api\n  newTag: \"1.4.0\"\n";
    let (_, after) = bump(
        &[("kustomization.yml", kustomization)],
        &[BumpRequest::tag("registry.example.com/team/api", "1.5.0")],
    )
    .unwrap();

    assert_eq!(after[0], kustomization.replace("\"1.4.0\"", "\"1.5.0\""));
}

#[test]
fn a_digest_bump_sets_the_entrys_digest_and_keeps_its_tag() {
    let (edits, after) = bump(
        &[("kustomization.yaml", KUSTOMIZATION)],
        &[BumpRequest::digest(
            "registry.example.com/team/api",
            format!("@{DIGEST}"),
        )],
    )
    .unwrap();

    assert_eq!(after[0], format!("{KUSTOMIZATION}    digest: {DIGEST}\n"));
    assert_eq!(
        edits[0].new,
        format!("registry.example.com/team/api:1.4.0@{DIGEST}")
    );
    assert_eq!(edits[0].line, 8);
}

#[test]
fn a_tag_bump_of_a_digest_pinned_entry_is_refused() {
    let kustomization =
        format!("images:\n  - name: team/api\n    newTag: '1.0'\n    digest: {DIGEST}\n");

    let err = bump(
        &[("kustomization.yaml", &kustomization)],
        &[BumpRequest::tag("team/api", "1.1")],
    )
    .unwrap_err();

    assert!(
        matches!(err, BumpError::DigestPinned { line: 4, .. }),
        "{err:?}"
    );
}

#[test]
fn every_container_and_init_container_of_the_image_is_bumped_and_others_are_not() {
    let (edits, after) = bump(
        &[("deployment.yaml", DEPLOYMENT)],
        &[BumpRequest::tag("registry.example.com/team/api", "1.5.0")],
    )
    .unwrap();

    assert_eq!(after[0], DEPLOYMENT.replace("api:1.4.0", "api:1.5.0"));
    assert_eq!(edits.iter().map(|e| e.line).collect::<Vec<_>>(), [10, 13]);
}

#[test]
fn a_digest_bump_of_a_container_replaces_its_tag() {
    let (edits, after) = bump(
        &[("deployment.yaml", DEPLOYMENT)],
        &[BumpRequest::digest("envoyproxy/envoy", DIGEST)],
    )
    .unwrap();

    assert_eq!(
        after[0],
        DEPLOYMENT.replace(
            "envoyproxy/envoy:v1.30.1",
            &format!("envoyproxy/envoy@{DIGEST}")
        )
    );
    assert_eq!(edits[0].old, "envoyproxy/envoy:v1.30.1");
}

#[test]
fn a_registry_port_is_part_of_the_repository_not_a_tag() {
    let pod = "kind: Pod\nspec:\n  containers:\n  - name: a\n    image: host:5000/team/api:7\n  - name: b\n    image: host/team/api:7\n";

    let (_, after) = bump(
        &[("pod.yaml", pod)],
        &[BumpRequest::tag("host:5000/team/api", "8")],
    )
    .unwrap();

    assert_eq!(
        after[0],
        pod.replace("host:5000/team/api:7", "host:5000/team/api:8")
    );
}

#[test]
fn docker_hub_short_names_match_their_full_names() {
    let pod = "kind: Pod\nspec:\n  containers:\n  - name: web\n    image: nginx:1.25\n";

    let (_, after) = bump(
        &[("pod.yaml", pod)],
        &[BumpRequest::tag("docker.io/library/nginx", "1.27")],
    )
    .unwrap();

    assert_eq!(after[0], pod.replace("nginx:1.25", "nginx:1.27"));
}

#[test]
fn helm_values_image_blocks_get_their_tag_set() {
    let values = "\
# values for the api chart
replicaCount: 2
image:
  registry: registry.example.com
  repository: team/api
  tag: \"1.4.0\"
  pullPolicy: IfNotPresent
worker:
  image: {repository: registry.example.com/team/api, tag: 1.4.0}
";
    let (edits, after) = bump(
        &[("envs/dev/values.yaml", values)],
        &[BumpRequest::tag("registry.example.com/team/api", "1.5.0")],
    )
    .unwrap();

    assert_eq!(after[0], values.replace("1.4.0", "1.5.0"));
    assert_eq!(edits.len(), 2);
}

#[test]
fn a_helm_values_block_without_a_tag_gets_one_in_its_own_indentation() {
    let values = "api:\n    image:\n        repository: team/api\n    replicas: 1\n";

    let (_, after) = bump(
        &[("values.yaml", values)],
        &[BumpRequest::tag("team/api", "2.0")],
    )
    .unwrap();

    assert_eq!(
        after[0],
        "api:\n    image:\n        repository: team/api\n        tag: \"2.0\"\n    replicas: 1\n"
    );
}

#[test]
fn several_images_bump_together() {
    let (edits, after) = bump(
        &[("deployment.yaml", DEPLOYMENT)],
        &[
            BumpRequest::tag("registry.example.com/team/api", "1.5.0"),
            BumpRequest::tag("envoyproxy/envoy", "v1.31.0"),
        ],
    )
    .unwrap();

    assert_eq!(edits.len(), 3);
    assert_eq!(
        after[0],
        DEPLOYMENT
            .replace("api:1.4.0", "api:1.5.0")
            .replace("v1.30.1", "v1.31.0")
    );
}

#[test]
fn one_missing_image_refuses_the_whole_bump_naming_the_image_and_environment() {
    let err = bump(
        &[("deployment.yaml", DEPLOYMENT)],
        &[
            BumpRequest::tag("registry.example.com/team/api", "1.5.0"),
            BumpRequest::tag("registry.example.com/team/billing", "3.0.0"),
        ],
    )
    .unwrap_err();

    assert_eq!(
        err.to_string(),
        "image registry.example.com/team/billing is not referenced in environment dev (looked for kustomization images entries, container images and Helm-values image blocks)"
    );
}

#[test]
fn an_image_already_at_its_target_yields_no_edit() {
    let (edits, after) = bump(
        &[
            ("deployment.yaml", DEPLOYMENT),
            ("kustomization.yaml", KUSTOMIZATION),
        ],
        &[BumpRequest::tag("registry.example.com/team/api", "1.4.0")],
    )
    .unwrap();

    assert!(edits.is_empty());
    assert_eq!(after, [DEPLOYMENT, KUSTOMIZATION]);
}

#[test]
fn a_tag_given_with_the_image_is_refused() {
    let err = bump(
        &[("deployment.yaml", DEPLOYMENT)],
        &[BumpRequest::tag("team/api:1.0", "1.1")],
    )
    .unwrap_err();

    assert!(matches!(err, BumpError::InvalidRequest { .. }), "{err:?}");
    assert!(err.to_string().contains("pass the tag separately"), "{err}");
}

#[test]
fn an_unparseable_file_that_mentions_the_image_is_an_error_not_a_silent_skip() {
    let broken =
        "kind: Pod\nspec:\n  containers:\n  - name: api\n    image: team/api:1.0\n   bad: [\n";

    let err = bump(
        &[("pod.yaml", broken)],
        &[BumpRequest::tag("team/api", "1.1")],
    )
    .unwrap_err();

    assert!(matches!(err, BumpError::Unparseable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("pod.yaml:1: cannot parse YAML that mentions team/api"),
        "{err}"
    );
}

#[test]
fn an_unparseable_file_unrelated_to_the_image_is_ignored() {
    let template = "apiVersion: v1\nkind: ConfigMap\ndata: {{ .Values.data | toYaml }}\n";

    let (edits, _) = bump(
        &[
            ("chart/templates/cm.yaml", template),
            ("deployment.yaml", DEPLOYMENT),
        ],
        &[BumpRequest::tag("envoyproxy/envoy", "v1.31.0")],
    )
    .unwrap();

    assert_eq!(edits.len(), 1);
}

#[test]
fn an_unparseable_file_whose_only_likeness_is_api_version_is_ignored() {
    let broken = "apiVersion: v1\nkind: ConfigMap\ndata: {{ .Values.data | toYaml }}\n";

    let (edits, _) = bump(
        &[
            ("chart/templates/cm.yaml", broken),
            ("deployment.yaml", DEPLOYMENT),
        ],
        &[BumpRequest::tag("registry.example.com/team/api", "1.5.0")],
    )
    .unwrap();

    assert_eq!(edits.len(), 2);
}
