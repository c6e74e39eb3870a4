//! Builders shared by the diff, report, bump and CLI tests.
#![allow(dead_code)]

use slipway::render::K8sObject;

/// A rendered object from YAML text, as if read from `file` at line 1.
pub fn object(file: &str, yaml: &str) -> K8sObject {
    let value: serde_json::Value = serde_yaml_ng::from_str(yaml).expect("test YAML parses");
    K8sObject {
        value,
        file: file.to_owned(),
        line: 1,
    }
}

/// A Deployment `name` in `namespace` running `image`, with `replicas`.
pub fn deployment(namespace: &str, name: &str, image: &str, replicas: u32) -> K8sObject {
    object(
        &format!("envs/dev/{name}.yaml"),
        &format!(
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
  labels:
    app: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: {name}
          image: {image}
          ports:
            - containerPort: 8080
"
        ),
    )
}

/// A ConfigMap with one key.
pub fn config_map(namespace: &str, name: &str, key: &str, value: &str) -> K8sObject {
    object(
        &format!("envs/dev/{name}.yaml"),
        &format!(
            "apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  namespace: {namespace}
data:
  {key}: {value:?}
"
        ),
    )
}

/// A Secret with one `stringData` key.
pub fn secret(namespace: &str, name: &str, key: &str, value: &str) -> K8sObject {
    object(
        &format!("envs/dev/{name}.yaml"),
        &format!(
            "apiVersion: v1
kind: Secret
metadata:
  name: {name}
  namespace: {namespace}
type: Opaque
stringData:
  {key}: {value:?}
"
        ),
    )
}

/// Plan a bump over in-memory files and apply it: the edits and every file's new text.
pub fn bump(
    files: &[(&str, &str)],
    requests: &[slipway::bump::BumpRequest],
) -> Result<(Vec<slipway::bump::Edit>, Vec<String>), slipway::bump::BumpError> {
    let owned: Vec<(String, String)> = files
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect();
    let edits = slipway::bump::plan("dev", &owned, requests)?;
    let texts = owned
        .iter()
        .map(|(path, text)| slipway::bump::apply(path, text, &edits))
        .collect();
    Ok((edits, texts))
}
