//! Two rustls back-ends are compiled in (ring and aws-lc-rs), so rustls cannot choose one by
//! itself and panics at the first TLS client built. slipway installs ring at start-up; this pins
//! that the Kubernetes and GitHub clients both build over https once it has.

#[tokio::test]
async fn kube_and_github_clients_build_over_https() {
    slipway::install_crypto_provider();
    let config = kube::Config::new("https://127.0.0.1:6443".parse().unwrap());
    let kube = kube::Client::try_from(config);
    assert!(kube.is_ok(), "{:?}", kube.err());
    let github = octocrab::Octocrab::builder()
        .base_uri("https://github.example.com/api/v3")
        .unwrap()
        .build();
    assert!(github.is_ok(), "{:?}", github.err());
}
