//! Manifest builders: the Kubernetes YAML tests write into config repos, and on top of that text
//! the rendered objects (`K8sObject`) that diff, report and bump tests start from. One builder per
//! kind, so a Deployment in a preview test and one in a report test differ only where they say so.
#![allow(dead_code)] // each test file uses its own part

use slipway::diff::FingerprintKey;
use slipway::render::K8sObject;

/// The key diffs in tests fingerprint Secret values with, so golden text stays the same.
pub const FINGERPRINT_KEY: FingerprintKey = FingerprintKey::from_bytes([7; 32]);

/// A Deployment with one container named after it; the options add what a test needs.
pub struct Deployment {
    name: String,
    namespace: Option<String>,
    labelled: bool,
    replicas: u32,
    image: String,
    port: Option<u16>,
}

impl Deployment {
    /// `name` with two replicas of `registry.example.com/team/NAME:latest`.
    pub fn new(name: &str) -> Self {
        Deployment {
            name: name.to_owned(),
            namespace: None,
            labelled: false,
            replicas: 2,
            image: format!("registry.example.com/team/{name}:latest"),
            port: None,
        }
    }

    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_owned());
        self
    }

    /// Labels the Deployment itself with `app: NAME` (its pods always are).
    pub fn labelled(mut self) -> Self {
        self.labelled = true;
        self
    }

    pub fn replicas(mut self, replicas: u32) -> Self {
        self.replicas = replicas;
        self
    }

    pub fn image(mut self, image: &str) -> Self {
        self.image = image.to_owned();
        self
    }

    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    pub fn yaml(&self) -> String {
        let Deployment {
            name,
            replicas,
            image,
            ..
        } = self;
        let namespace = self
            .namespace
            .as_ref()
            .map(|ns| format!("  namespace: {ns}\n"))
            .unwrap_or_default();
        let labels = if self.labelled {
            format!("  labels:\n    app: {name}\n")
        } else {
            String::new()
        };
        let ports = self
            .port
            .map(|port| format!("          ports:\n            - containerPort: {port}\n"))
            .unwrap_or_default();
        format!(
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
{namespace}{labels}spec:
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
{ports}"
        )
    }
}

/// A ConfigMap `name` with one key, its value quoted.
pub fn config_map(name: &str, key: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  {key}: {value:?}\n"
    )
}

/// [`config_map`] in `namespace`.
pub fn config_map_in(namespace: &str, name: &str, key: &str, value: &str) -> String {
    in_namespace(&config_map(name, key, value), namespace)
}

/// An Opaque Secret `name` in `namespace` with one `stringData` key.
pub fn secret_in(namespace: &str, name: &str, key: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {namespace}\n\
         type: Opaque\nstringData:\n  {key}: {value:?}\n"
    )
}

/// The Deployment `name` at `tag` of `registry.example.com/team/NAME`, as a config repo holds it.
pub fn deployment(name: &str, tag: &str) -> String {
    Deployment::new(name)
        .image(&format!("registry.example.com/team/{name}:{tag}"))
        .yaml()
}

/// An API Deployment with comments, quoting and an init container, as people write them: the
/// file a bump must change in two lines and leave alone in every other byte.
pub fn api_deployment(api: &str, migrate: &str, envoy: &str) -> String {
    format!(
        "# The API, behind the gateway.\n\
         apiVersion: apps/v1\n\
         kind: Deployment\n\
         metadata:\n  name: api   # keep the name: dashboards use it\n\
         spec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: api}}\n  template:\n    metadata:\n      labels:\n        app: api\n    spec:\n\
         \x20     initContainers:\n\
         \x20       - name: migrate\n\
         \x20         image: registry.example.com/team/migrate:{migrate}   # in step with the API\n\
         \x20     containers:\n\
         \x20       - name: api\n\
         \x20         image: \"registry.example.com/team/api:{api}\"\n\
         \x20         ports:\n\
         \x20           - containerPort: 8080\n\
         \x20       - name: proxy\n\
         \x20         image: envoyproxy/envoy:{envoy}\n"
    )
}

/// `yaml` (one object whose `metadata:` starts with its name) placed in `namespace`.
fn in_namespace(yaml: &str, namespace: &str) -> String {
    let (head, rest) = yaml
        .split_once("metadata:\n  name: ")
        .expect("the object has metadata.name");
    let (name, tail) = rest.split_once('\n').expect("a line after the name");
    format!("{head}metadata:\n  name: {name}\n  namespace: {namespace}\n{tail}")
}

/// Rendered objects, parsed from the YAML the builders above write.
pub mod objects {
    use super::*;

    /// A rendered object from YAML text, as if read from `file` at line 1.
    pub fn object(file: &str, yaml: &str) -> K8sObject {
        let value: serde_json::Value = serde_yaml_ng::from_str(yaml).expect("test YAML parses");
        K8sObject {
            value,
            file: file.to_owned(),
            line: 1,
        }
    }

    /// A labelled Deployment `name` in `namespace` running `image` on port 8080, with `replicas`.
    pub fn deployment(namespace: &str, name: &str, image: &str, replicas: u32) -> K8sObject {
        let yaml = Deployment::new(name)
            .namespace(namespace)
            .labelled()
            .replicas(replicas)
            .image(image)
            .port(8080)
            .yaml();
        object(&format!("envs/dev/{name}.yaml"), &yaml)
    }

    /// A ConfigMap with one key.
    pub fn config_map(namespace: &str, name: &str, key: &str, value: &str) -> K8sObject {
        object(
            &format!("envs/dev/{name}.yaml"),
            &config_map_in(namespace, name, key, value),
        )
    }

    /// A Secret with one `stringData` key.
    pub fn secret(namespace: &str, name: &str, key: &str, value: &str) -> K8sObject {
        object(
            &format!("envs/dev/{name}.yaml"),
            &secret_in(namespace, name, key, value),
        )
    }
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
