//! An environment of many objects for the deploy benches: one in twenty a Deployment, one in
//! twenty a Service, the rest ConfigMaps, a file each.

use crate::git_fixtures::TestRepo;
use crate::manifests::{config_map_in, Deployment};

/// The resources the objects are applied as.
pub const RESOURCES: [&str; 3] = ["configmaps", "services", "deployments"];

fn service(namespace: &str, name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {namespace}\n\
         spec:\n  selector:\n    app: {name}\n  ports:\n  - port: 80\n    targetPort: 8080\n"
    )
}

/// Replaces `envs/<env>`'s files with `objects` objects in `namespace`, `part-0000` on.
pub fn write(work: &TestRepo, env: &str, namespace: &str, objects: usize) {
    work.remove(&format!("envs/{env}/api.yaml"));
    work.remove(&format!("envs/{env}/settings.yaml"));
    for n in 0..objects {
        let name = format!("part-{n:04}");
        let yaml = match n % 20 {
            0 => Deployment::new(&name)
                .namespace(namespace)
                .replicas(1)
                .yaml(),
            1 => service(namespace, &name),
            _ => config_map_in(namespace, &name, "value", "0"),
        };
        work.write(&format!("envs/{env}/{name}.yaml"), &yaml);
    }
}
