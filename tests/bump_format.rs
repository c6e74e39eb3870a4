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
