//! Deploys to two clusters at once: one push that changes `dev` (on the cluster `default`) and
//! `prod` (on the cluster `prod`, named in `CLUSTERS`), each an environment of 1,000 objects,
//! against the same push changing `dev` alone. Both are timed from the push's 202 to the last
//! server-side apply request of the environment(s) reaching their API server.
//!
//!     cargo bench --bench deploy_clusters   # 10 rounds of each, 1,000 objects (RUNS=N, OBJECTS=N)
//!
//! slipway runs in-process on loopback (release build) between the fake GitHub of the test
//! suite (a real bare repository for the config repo) and two fake Kubernetes API servers, one
//! per cluster, which the real `kube::Client` talks to over HTTP; the fakes complete rollouts at
//! once. The rounds alternate (one cluster, then two) so that both see the same machine; the
//! first deploy of each environment (mirror creation, the first render) is not counted. A ratio
//! of two-cluster time to one-cluster time near 1 means the two deploys ran side by side; near 2,
//! one after the other. Needs git.

#[path = "../tests/build_world/mod.rs"]
mod build_world;
#[path = "../tests/command_world/mod.rs"]
mod command_world;
#[path = "../tests/deploy_world/mod.rs"]
mod deploy_world;
#[path = "../tests/git_fixtures/mod.rs"]
mod git_fixtures;
#[path = "../tests/manifests/mod.rs"]
mod manifests;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use deploy_world::{DeployWorld, OtherClusters, DEV_NS, PROD_NS};
use manifests::{config_map_in, Deployment};
use support::fake_kube::FakeKube;

const CONFIG: &str = "\
environments:
  dev:
    path: envs/dev
    namespace: team-dev
    drift_interval: 0
  prod:
    path: envs/prod
    namespace: team-prod
    cluster: prod
    drift_interval: 0
";

/// The resources the environments' objects are applied as.
const RESOURCES: [&str; 3] = ["configmaps", "services", "deployments"];

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn applies(kube: &FakeKube) -> usize {
    RESOURCES.iter().map(|r| kube.requests("apply", r)).sum()
}

/// Polls `ready` every half millisecond until it holds; when it did.
async fn until(what: &str, mut ready: impl FnMut() -> bool) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if ready() {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

fn service(namespace: &str, name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {namespace}\n\
         spec:\n  selector:\n    app: {name}\n  ports:\n  - port: 80\n    targetPort: 8080\n"
    )
}

/// `objects` objects for `env` in `namespace`: one in twenty a Deployment, one in twenty a
/// Service, the rest ConfigMaps, a file each.
fn write_environment(work: &git_fixtures::TestRepo, env: &str, namespace: &str, objects: usize) {
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

/// One push to `main` changing one ConfigMap in each of `envs`; the time from its 202 to the
/// last apply request of each environment's `objects`, in the order of `envs`.
async fn push_round(
    world: &DeployWorld,
    round: u64,
    envs: &[(&str, &str, &FakeKube)],
    objects: usize,
) -> Vec<Duration> {
    let before: Vec<usize> = envs.iter().map(|(_, _, kube)| applies(kube)).collect();
    let base = world.main_head();
    let after = world.commit_on("main", &format!("round {round}"), |w| {
        for (env, namespace, _) in envs {
            w.write(
                &format!("envs/{env}/part-0002.yaml"),
                &config_map_in(namespace, "part-0002", "value", &format!("round-{round}")),
            );
        }
    });
    let accepted = {
        world.deliver_push(&base, &after).await;
        Instant::now()
    };
    let mut took = Vec::new();
    for ((env, _, kube), before) in envs.iter().zip(before) {
        let last = until(&format!("the last apply of {env}"), || {
            applies(kube) >= before + objects
        })
        .await;
        took.push(last.saturating_duration_since(accepted));
    }
    for (env, _, _) in envs {
        let check = world.deployed(&after, env).await;
        assert_eq!(check.conclusion.as_deref(), Some("success"), "{check:#?}");
    }
    took
}

async fn prod_cluster() -> FakeKube {
    let kube = FakeKube::builder().namespace(PROD_NS).start().await;
    kube.auto_roll_out(true);
    kube
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let runs: u64 = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let objects: usize = std::env::var("OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let world = DeployWorld::with_clusters(
        CONFIG,
        None,
        OtherClusters {
            clusters: vec![("prod".to_string(), prod_cluster().await)],
            aliases: Vec::new(),
            kubeconfigs: Vec::new(),
            backoff: Duration::from_millis(200),
        },
    )
    .await;
    let default = world.kube.clone();
    let prod = world.cluster("prod").clone();
    let dev_env = ("dev", DEV_NS, &default);
    let prod_env = ("prod", PROD_NS, &prod);

    // Both environments grow to `objects` and deploy once (cold, not counted).
    world.commit_on("main", "large environments", |w| {
        write_environment(w, "dev", DEV_NS, objects);
        write_environment(w, "prod", PROD_NS, objects);
    });
    let cold = push_round(&world, 0, &[dev_env, prod_env], objects).await;

    let mut one = Vec::new();
    let mut both = Vec::new();
    let mut dev_of_both = Vec::new();
    let mut prod_of_both = Vec::new();
    for round in 0..runs {
        let alone = push_round(&world, 1 + 2 * round, &[dev_env], objects).await;
        one.push(alone[0]);
        let pair = push_round(&world, 2 + 2 * round, &[dev_env, prod_env], objects).await;
        dev_of_both.push(pair[0]);
        prod_of_both.push(pair[1]);
        both.push(pair[0].max(pair[1]));
    }
    for list in [&mut one, &mut both, &mut dev_of_both, &mut prod_of_both] {
        list.sort();
    }
    let (median_one, median_both) = (percentile(&one, 0.5), percentile(&both, 0.5));
    println!(
        "deploys to two clusters, {objects} objects each, {runs} rounds of each (cold: dev {}, prod {})",
        ms(cold[0]),
        ms(cold[1])
    );
    println!(
        "one cluster (dev): push accepted -> last apply: median {}, p90 {}, min {}, max {}",
        ms(median_one),
        ms(percentile(&one, 0.9)),
        ms(one[0]),
        ms(one[one.len() - 1])
    );
    println!(
        "two clusters (dev + prod): push accepted -> last apply of both: median {}, p90 {}, min {}, max {}",
        ms(median_both),
        ms(percentile(&both, 0.9)),
        ms(both[0]),
        ms(both[both.len() - 1])
    );
    println!(
        "  of which dev done at median {}, prod done at median {}",
        ms(percentile(&dev_of_both, 0.5)),
        ms(percentile(&prod_of_both, 0.5))
    );
    println!(
        "two clusters / one cluster: {:.2} (1.00: side by side, 2.00: one after the other)",
        median_both.as_secs_f64() / median_one.as_secs_f64().max(1e-9)
    );
}
