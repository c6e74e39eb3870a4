//! Fetching over HTTPS with a token, from `git http-backend` behind a tiny loopback TLS
//! server that insists on Basic authentication. The certificates are made with the `openssl`
//! command; without it the tests are skipped with a note.

mod git_fixtures;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use git_fixtures::TestRepo;
use slipway::git::{Mirrors, Remote, Token};

const TOKEN: &str = "ghs_test_token_0123456789";

/// A certificate authority and a server certificate for 127.0.0.1 signed by it, made once
/// per test run; the client side trusts the authority through `SSL_CERT_FILE`.
struct Certificates {
    _dir: tempfile::TempDir,
    config: Arc<rustls::ServerConfig>,
}

fn certificates() -> Option<&'static Certificates> {
    static CERTS: OnceLock<Option<Certificates>> = OnceLock::new();
    let certs = CERTS
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            make_certificates()
        })
        .as_ref();
    if certs.is_none() {
        eprintln!("note: HTTPS fetch tests skipped: the `openssl` command is not available");
    }
    certs
}

fn make_certificates() -> Option<Certificates> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let dir = tempfile::tempdir().ok()?;
    let openssl = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    std::fs::write(
        dir.path().join("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .ok()?;
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let made = openssl(
        &[
            &["req", "-x509"],
            &ec[..],
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=slipway test CA",
            ],
        ]
        .concat(),
    ) && openssl(
        &[
            &["req"],
            &ec[..],
            &[
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    ) && openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    if !made {
        return None;
    }
    std::env::set_var("SSL_CERT_FILE", dir.path().join("ca.pem"));
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.path().join("leaf.pem"))
            .ok()?
            .collect::<Result<_, _>>()
            .ok()?;
    let key = PrivateKeyDer::from_pem_file(dir.path().join("leaf.key")).ok()?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .ok()?;
    Some(Certificates {
        _dir: dir,
        config: Arc::new(config),
    })
}

/// Serves the bare repositories under `root` at `https://127.0.0.1:PORT/NAME`, answering 401
/// unless the request carries `x-access-token:TOKEN`. Records the Authorization headers seen.
struct GitHttpServer {
    url: String,
    authorizations: Arc<Mutex<Vec<Option<String>>>>,
}

impl GitHttpServer {
    fn start(root: PathBuf, tls: Arc<rustls::ServerConfig>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&authorizations);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let root = root.clone();
                let seen = Arc::clone(&seen);
                let tls = Arc::clone(&tls);
                std::thread::spawn(move || {
                    let Ok(connection) = rustls::ServerConnection::new(tls) else {
                        return;
                    };
                    serve(rustls::StreamOwned::new(connection, stream), &root, &seen);
                });
            }
        });
        GitHttpServer {
            url,
            authorizations,
        }
    }
}

fn serve(
    stream: rustls::StreamOwned<rustls::ServerConnection, TcpStream>,
    root: &std::path::Path,
    seen: &Mutex<Vec<Option<String>>>,
) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let body = if let Some(len) = header("content-length") {
        let mut body = vec![0; len.parse().unwrap()];
        reader.read_exact(&mut body).unwrap();
        body
    } else if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).unwrap();
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
        body
    } else {
        Vec::new()
    };
    let authorization = header("authorization");
    seen.lock().unwrap().push(authorization.clone());
    let expected = format!(
        "Basic {}",
        base64(format!("x-access-token:{TOKEN}").as_bytes())
    );
    if authorization.as_deref() != Some(expected.as_str()) {
        let _ = reader.get_mut().write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut cgi = Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header("content-type").unwrap_or_default())
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("GIT_PROTOCOL", header("git-protocol").unwrap_or_default())
        .env(
            "HTTP_CONTENT_ENCODING",
            header("content-encoding").unwrap_or_default(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    cgi.stdin.take().unwrap().write_all(&body).unwrap();
    let output = cgi.wait_with_output().unwrap();
    let split = output
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| {
            output
                .stdout
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, 2))
        })
        .unwrap();
    let head = String::from_utf8_lossy(&output.stdout[..split.0]).into_owned();
    let content = &output.stdout[split.0 + split.1..];
    let mut status = "200 OK".to_string();
    let mut response = Vec::new();
    for line in head.lines() {
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("status") => {
                status = value.trim().to_string()
            }
            _ => response.extend_from_slice(format!("{line}\r\n").as_bytes()),
        }
    }
    let mut out = format!("HTTP/1.1 {status}\r\n").into_bytes();
    out.extend_from_slice(&response);
    out.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            content.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(content);
    let stream = reader.get_mut();
    let _ = stream.write_all(&out);
    let _ = stream.flush();
    stream.conn.send_close_notify();
    let _ = stream.flush();
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn served_repo() -> Option<(tempfile::TempDir, GitHttpServer, String)> {
    let certs = certificates()?;
    let upstream = TestRepo::new();
    upstream.write("envs/dev/app.yaml", "served: true\n");
    let head = upstream.commit("served");
    let (dir, _bare) = upstream.bare_clone();
    let server = GitHttpServer::start(dir.path().to_path_buf(), Arc::clone(&certs.config));
    Some((dir, server, head))
}

#[test]
fn a_token_authenticates_https_fetches_as_x_access_token() {
    let Some((_dir, server, head)) = served_repo() else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let mirrors = Mirrors::new(cache.path()).unwrap();
    let remote = Remote::new(format!("{}/repo.git", server.url)).with_token(Token::new(TOKEN));
    let mirror = mirrors.fetch(&remote).unwrap();
    assert_eq!(mirror.resolve("main").unwrap().to_hex(), head);
    let expected = format!(
        "Basic {}",
        base64(format!("x-access-token:{TOKEN}").as_bytes())
    );
    let seen = server.authorizations.lock().unwrap().clone();
    assert!(seen.contains(&Some(expected)), "{seen:?}");
}

#[test]
fn without_a_token_the_fetch_fails_instead_of_prompting() {
    let Some((_dir, server, _)) = served_repo() else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let mirrors = Mirrors::new(cache.path()).unwrap();
    let err = mirrors
        .fetch(&Remote::new(format!("{}/repo.git", server.url)))
        .unwrap_err();
    assert!(err.to_string().contains(&server.url), "{err}");
}

#[test]
fn a_rejected_token_never_appears_in_the_error() {
    let Some((_dir, server, _)) = served_repo() else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let mirrors = Mirrors::new(cache.path()).unwrap();
    let wrong = "ghs_wrong_secret_value";
    let remote = Remote::new(format!("{}/repo.git", server.url)).with_token(Token::new(wrong));
    let err = mirrors.fetch(&remote).unwrap_err();
    let shown = format!("{err} {err:?}");

    assert!(!shown.contains(wrong), "{shown}");
}
