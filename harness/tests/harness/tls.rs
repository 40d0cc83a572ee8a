//! HTTPS deployments: the reference behind TLS terminators whose
//! certificates a private CA made in the test, checked over HTTPS with
//! `--cacert`; without it, the harness says the certificate is unknown.

use std::sync::Arc;

use conformance::{ReferenceStack, StackOptions};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A private CA and a certificate it issued for `localhost` and 127.0.0.1.
pub struct Pki {
    /// The CA's certificate, PEM: what `--cacert` takes.
    pub ca_pem: String,
    acceptor: TlsAcceptor,
}

impl Pki {
    /// A fresh CA and server certificate.
    pub fn new() -> Self {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        // Both of rustls' providers are compiled in (the MongoDB driver
        // brings ring): name the one reqwest uses.
        let provider = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider();
        let config = ServerConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        Self {
            ca_pem: ca.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        }
    }

    /// A TLS terminator in front of a plain HTTP `backend` URL; its
    /// `https://localhost:port` URL.
    pub async fn terminate(&self, backend: &str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let backend = backend.trim_start_matches("http://").to_owned();
        let acceptor = self.acceptor.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (acceptor, backend) = (acceptor.clone(), backend.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    let Ok(plain) = TcpStream::connect(&backend).await else {
                        return;
                    };
                    relay(tls, plain).await;
                });
            }
        });
        format!("https://localhost:{port}")
    }
}

/// Relays both ways. When the backend stops reading (it answered a body
/// too large before reading it all), what the client still sends is read
/// and dropped, as a proxy's lingering close does, so that the client gets
/// the answer rather than a reset.
async fn relay(tls: tokio_rustls::server::TlsStream<TcpStream>, plain: TcpStream) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (mut client_in, mut client_out) = tokio::io::split(tls);
    let (mut backend_in, mut backend_out) = plain.into_split();
    let up = async move {
        let mut buf = vec![0_u8; 16 * 1024];
        let mut open = true;
        while let Ok(n) = client_in.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if open && backend_out.write_all(&buf[..n]).await.is_err() {
                open = false;
            }
        }
        let _ = backend_out.shutdown().await;
    };
    let down = async move {
        let _ = tokio::io::copy(&mut backend_in, &mut client_out).await;
        let _ = client_out.shutdown().await;
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        tokio::join!(up, down)
    })
    .await;
}

fn run(args: Vec<String>) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_conformance"))
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_behind_tls_is_checked_over_https() {
    let stack = ReferenceStack::start(StackOptions::default())
        .await
        .unwrap();
    let pki = Pki::new();
    let auth = pki.terminate(&stack.target.auth_url).await;
    let chat = pki.terminate(&stack.target.chat_url).await;
    let dir = std::env::temp_dir().join(format!("tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let admin = stack
        .target
        .admin_token
        .as_ref()
        .unwrap()
        .expose()
        .to_owned();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "run",
            "--auth-url",
            &auth,
            "--chat-url",
            &chat,
            "--admin-token",
            &admin,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };

    let ca_arg = ca.to_str().unwrap().to_owned();
    let with_ca = args(&["--level", "strict", "--cacert", &ca_arg]);
    let output = tokio::task::spawn_blocking(move || run(with_ca))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("core 84 passed, 0 failed") || stdout.contains(" 0 failed"),
        "{stdout}"
    );

    let without = args(&["--only", "core.members."]);
    let output = tokio::task::spawn_blocking(move || run(without))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
    std::fs::remove_dir_all(dir).ok();
}
