//! A bump changes the bytes of one scalar and nothing else, whatever the file looks like.

mod manifests;

use manifests::bump;
use slipway::bump::BumpRequest;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn comments_blank_lines_and_indentation_survive_a_tag_bump() {
    let before = "\
# The API, owned by team payments.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api   # keep this name


spec:
  template:
    spec:
      containers:
          # the main container
        -   name: api
            image: registry.example.com/team/api:1.4.0  # bumped by CI
            args: [\"--port\", \"8080\"]
";
    let (edits, after) = bump(
        &[("envs/dev/api.yaml", before)],
        &[BumpRequest::tag("registry.example.com/team/api", "1.5.0")],
    )
    .unwrap();

    assert_eq!(after[0], before.replace("api:1.4.0", "api:1.5.0"));
    assert_eq!(edits.len(), 1);
    assert_eq!(
        edits[0].to_string(),
        "envs/dev/api.yaml:14 registry.example.com/team/api:1.4.0 → registry.example.com/team/api:1.5.0"
    );
}

#[test]
fn crlf_line_endings_are_kept() {
    let before = "apiVersion: apps/v1\r\nkind: Deployment\r\nmetadata:\r\n  name: api\r\nspec:\r\n  template:\r\n    spec:\r\n      containers:\r\n      - name: api\r\n        image: team/api:1.0 # pinned\r\n";
    let (_, after) = bump(
        &[("api.yaml", before)],
        &[BumpRequest::tag("team/api", "1.1")],
    )
    .unwrap();

    assert_eq!(after[0], before.replace("team/api:1.0", "team/api:1.1"));
}

#[test]
fn a_key_added_to_a_crlf_kustomization_uses_crlf() {
    let before = "images:\r\n  - name: team/api\r\n    newName: registry.example.com/team/api\r\nresources:\r\n  - ../../base\r\n";
    let (edits, after) = bump(
        &[("envs/dev/kustomization.yaml", before)],
        &[BumpRequest::tag("registry.example.com/team/api", "2.0.0")],
    )
    .unwrap();

    assert_eq!(
        after[0],
        "images:\r\n  - name: team/api\r\n    newName: registry.example.com/team/api\r\n    newTag: 2.0.0\r\nresources:\r\n  - ../../base\r\n"
    );
    assert_eq!(edits[0].line, 4);
}

#[test]
fn quote_styles_are_kept() {
    let before = "\
kind: Pod
spec:
  initContainers:
    - name: migrate
      image: 'team/api:1.0'
  containers:
    - name: api
      image: \"team/api:1.0\"
";
    let (_, after) = bump(
        &[("pod.yaml", before)],
        &[BumpRequest::tag("team/api", "1.1")],
    )
    .unwrap();

    assert_eq!(
        after[0],
        before
            .replace("'team/api:1.0'", "'team/api:1.1'")
            .replace("\"team/api:1.0\"", "\"team/api:1.1\"")
    );
}

#[test]
fn an_image_behind_an_anchor_is_edited_once_at_the_anchor() {
    let before = "\
x-image: &api-image team/api:1.0 # shared
kind: Pod
spec:
  initContainers:
    - name: migrate
      image: *api-image
  containers:
    - name: api
      image: *api-image
";
    let (edits, after) = bump(
        &[("pod.yaml", before)],
        &[BumpRequest::tag("team/api", "1.1")],
    )
    .unwrap();

    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0].line, 1);
    assert_eq!(after[0], before.replace("team/api:1.0", "team/api:1.1"));
}

#[test]
fn a_container_inherited_through_a_merge_key_is_edited_where_its_image_is_written() {
    let before = "\
kind: Pod
x-defaults: &defaults
  image: team/api:1.0
  imagePullPolicy: Always
spec:
  containers:
    - <<: *defaults
      name: api
";
    let (_, after) = bump(
        &[("pod.yaml", before)],
        &[BumpRequest::tag("team/api", "1.1")],
    )
    .unwrap();

    assert_eq!(after[0], before.replace("team/api:1.0", "team/api:1.1"));
}

#[test]
fn flow_style_mappings_are_edited_in_place() {
    let before = "kind: Pod\nspec: {containers: [{name: api, image: team/api:1.0}, {image: sidecar:3, name: side}]}\n";
    let (_, after) = bump(
        &[("pod.yaml", before)],
        &[BumpRequest::tag("team/api", "1.1")],
    )
    .unwrap();

    assert_eq!(after[0], before.replace("team/api:1.0", "team/api:1.1"));
}

#[test]
fn a_missing_key_is_added_inside_a_flow_style_images_entry() {
    let before = "resources: [deploy.yaml]\nimages: [{name: team/api, newTag: '1.0'}, { name: team/worker }]\n";
    let (_, after) = bump(
        &[("kustomization.yaml", before)],
        &[BumpRequest::digest("team/worker", DIGEST)],
    )
    .unwrap();

    assert_eq!(
        after[0],
        format!("resources: [deploy.yaml]\nimages: [{{name: team/api, newTag: '1.0'}}, {{ name: team/worker, digest: {DIGEST} }}]\n")
    );
}

#[test]
fn a_tag_that_would_read_as_a_number_is_quoted() {
    let before = "images:\n  - name: team/api\n    newTag: v1 # release\n";
    let (_, after) = bump(
        &[("kustomization.yaml", before)],
        &[BumpRequest::tag("team/api", "1.10")],
    )
    .unwrap();

    assert_eq!(
        after[0],
        "images:\n  - name: team/api\n    newTag: \"1.10\" # release\n"
    );
}

#[test]
fn each_document_of_a_multi_document_file_is_edited_at_its_own_offset() {
    let before = "\
# workloads
---
apiVersion: v1
kind: Service
metadata: {name: api}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      containers:
        - {name: api, image: team/api:1.0}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: report
              image: team/api:1.0
";
    let (edits, after) = bump(
        &[("all.yaml", before)],
        &[BumpRequest::tag("team/api", "1.1")],
    )
    .unwrap();

    assert_eq!(after[0], before.replace("team/api:1.0", "team/api:1.1"));
    let lines: Vec<usize> = edits.iter().map(|e| e.line).collect();
    assert_eq!(lines, [14, 26]);
}

#[test]
fn an_empty_tag_value_is_filled_in_place() {
    let before = "images:\n  - name: team/api\n    newTag:\n    # the next entry\n  - name: team/worker\n    newTag: '3'\n";
    let (_, after) = bump(
        &[("kustomization.yaml", before)],
        &[BumpRequest::tag("team/api", "v2")],
    )
    .unwrap();

    assert_eq!(after[0], before.replace("newTag:\n", "newTag: v2\n"));
}

#[test]
fn a_key_added_to_an_entry_followed_by_a_comment_stays_inside_the_entry() {
    let before = "images:\n  - name: team/api # the API\n  # worker below\n  - name: team/worker\nresources: []\n";
    let (_, after) = bump(
        &[("kustomization.yaml", before)],
        &[BumpRequest::tag("team/api", "v2")],
    )
    .unwrap();

    assert_eq!(
        after[0],
        "images:\n  - name: team/api # the API\n    newTag: v2\n  # worker below\n  - name: team/worker\nresources: []\n"
    );
}

#[test]
fn a_json_manifest_is_edited_in_place() {
    let before = "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Pod\",\n  \"spec\": {\"containers\": [{\"name\": \"api\", \"image\": \"team/api:1.0\"}]}\n}\n";
    let (_, after) = bump(
        &[("pod.json", before)],
        &[BumpRequest::tag("team/api", "1.1")],
    )
    .unwrap();

    assert_eq!(after[0], before.replace("team/api:1.0", "team/api:1.1"));
}

const OLD_DIGEST: &str = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

#[test]
fn a_pinned_tag_replaces_a_container_image_and_its_old_pin() {
    let before = "\
kind: Deployment
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: registry.example.com/team/api:1.4.0   # runs the migrations
      containers:
        - name: api
          image: \"registry.example.com/team/api:1.4.0@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\"
";
    let (edits, after) = bump(
        &[("envs/dev/api.yaml", before)],
        &[BumpRequest::pinned(
            "registry.example.com/team/api",
            "1.5.0",
            DIGEST,
        )],
    )
    .unwrap();

    assert_eq!(
        after[0],
        before
            .replace("api:1.4.0   #", &format!("api:1.5.0@{DIGEST}   #"))
            .replace(
                &format!("api:1.4.0@{OLD_DIGEST}"),
                &format!("api:1.5.0@{DIGEST}")
            )
    );
    assert_eq!(edits.len(), 2);
    assert_eq!(
        edits[1].to_string(),
        format!("envs/dev/api.yaml:10 registry.example.com/team/api:1.4.0@{OLD_DIGEST} → registry.example.com/team/api:1.5.0@{DIGEST}")
    );
}

#[test]
fn the_same_tag_pinned_to_another_digest_is_a_change_and_the_same_pin_is_none() {
    let before = format!("kind: Pod\nspec:\n  containers:\n    - name: api\n      image: team/api:1.0@{OLD_DIGEST} # pinned\n");
    let (edits, after) = bump(
        &[("pod.yaml", &before)],
        &[BumpRequest::pinned("team/api", "1.0", DIGEST)],
    )
    .unwrap();
    assert_eq!(after[0], before.replace(OLD_DIGEST, DIGEST));
    assert_eq!(edits.len(), 1);

    let (edits, _) = bump(
        &[("pod.yaml", &after[0])],
        &[BumpRequest::pinned("team/api", "1.0", DIGEST)],
    )
    .unwrap();
    assert!(edits.is_empty(), "already pinned: {edits:?}");
}

#[test]
fn a_pinned_tag_sets_new_tag_and_digest_of_a_kustomization_entry() {
    let before = "\
resources:
  - ../../base
images:
  - name: registry.example.com/team/api
    newTag: \"1.4.0\"   # bumped by slipway
  - name: registry.example.com/team/web
    newTag: 2.0.0
";
    let (edits, after) = bump(
        &[("envs/dev/kustomization.yaml", before)],
        &[BumpRequest::pinned(
            "registry.example.com/team/api",
            "1.5.0",
            DIGEST,
        )],
    )
    .unwrap();

    assert_eq!(
        after[0],
        format!(
            "\
resources:
  - ../../base
images:
  - name: registry.example.com/team/api
    newTag: \"1.5.0\"   # bumped by slipway
    digest: {DIGEST}
  - name: registry.example.com/team/web
    newTag: 2.0.0
"
        )
    );
    assert_eq!(edits.len(), 2);
    assert!(edits
        .iter()
        .all(|e| e.new == format!("registry.example.com/team/api:1.5.0@{DIGEST}")));
}

#[test]
fn a_kustomization_entry_without_tag_or_digest_gets_both_keys_in_one_insertion() {
    let before = "images:\n  - name: team/api\n    newName: registry.example.com/team/api\nresources:\n  - ../../base\n";
    let (edits, after) = bump(
        &[("kustomization.yaml", before)],
        &[BumpRequest::pinned(
            "registry.example.com/team/api",
            "2.0.0",
            DIGEST,
        )],
    )
    .unwrap();

    assert_eq!(
        after[0],
        format!("images:\n  - name: team/api\n    newName: registry.example.com/team/api\n    newTag: 2.0.0\n    digest: {DIGEST}\nresources:\n  - ../../base\n")
    );
    assert_eq!(edits.len(), 1);
}

#[test]
fn a_pinned_kustomization_entry_whose_digest_alone_changes_changes_one_line() {
    let before =
        format!("images:\n  - name: team/api\n    newTag: '1.0'\n    digest: {OLD_DIGEST}\n");
    let (edits, after) = bump(
        &[("kustomization.yaml", &before)],
        &[BumpRequest::pinned("team/api", "1.0", DIGEST)],
    )
    .unwrap();

    assert_eq!(after[0], before.replace(OLD_DIGEST, DIGEST));
    assert_eq!(edits.len(), 1);
}

fn helm_bump(values: &str, request: BumpRequest) -> String {
    let files = vec![("chart/values.yaml".to_string(), values.to_string())];
    let edits = slipway::bump::plan_helm_values("dev", &files, &[request]).unwrap();
    slipway::bump::apply("chart/values.yaml", values, &edits)
}

#[test]
fn helm_values_with_a_digest_key_get_tag_and_digest_side_by_side() {
    let before = "\
image:
  repository: registry.example.com/team/api
  tag: \"1.4.0\"  # the chart writes repository:tag@digest when digest is set
  digest: \"\"
replicas: 2
";
    let after = helm_bump(
        before,
        BumpRequest::pinned("registry.example.com/team/api", "1.5.0", DIGEST),
    );

    assert_eq!(
        after,
        before
            .replace("tag: \"1.4.0\"", "tag: \"1.5.0\"")
            .replace("digest: \"\"", &format!("digest: \"{DIGEST}\""))
    );
}

#[test]
fn helm_values_without_a_digest_key_carry_the_digest_in_the_tag() {
    let before = "\
image:
  repository: registry.example.com/team/api
  tag: 1.4.0   # rendered as repository:tag
";
    let after = helm_bump(
        before,
        BumpRequest::pinned("registry.example.com/team/api", "1.5.0", DIGEST),
    );

    assert_eq!(
        after,
        before.replace("tag: 1.4.0", &format!("tag: 1.5.0@{DIGEST}"))
    );
}

#[test]
fn a_pinned_tag_with_a_digest_that_is_not_one_is_refused() {
    let refused = bump(
        &[(
            "pod.yaml",
            "kind: Pod\nspec:\n  containers:\n    - image: team/api:1.0\n",
        )],
        &[BumpRequest::pinned("team/api", "1.1", "sha256:abc")],
    )
    .unwrap_err();

    assert!(
        refused
            .to_string()
            .contains("invalid digest \"sha256:abc\""),
        "{refused}"
    );
}
