//! The optional HTTPS listener (rustls, PEM certificate and key from the config).

mod common;

use std::io::Write;
use std::sync::Arc;

use common::{batch, Runner, TempDir, KEY};

#[test]
fn ingest_over_tls() {
    let dir = TempDir::new("tls");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("runner.crt"), dir.path().join("runner.key"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let runner = Runner::start(
        &dir.path().join("data"),
        &format!("[tls]\ncert = {:?}\nkey = {:?}\n", cert.display().to_string(), key.display().to_string()),
    );

    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connection = rustls::ClientConnection::new(Arc::new(client), "localhost".try_into().unwrap()).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, std::net::TcpStream::connect(runner.addr).unwrap());
    let body = batch("tls", 1, 1);
    let head = format!("POST /v1/batch HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\nauthorization: Bearer {KEY}\r\ncontent-length: {}\r\n\r\n", body.len());
    tls.write_all(head.as_bytes()).unwrap();
    tls.write_all(&body).unwrap();
    let response = common::read_response(&mut tls).unwrap();
    assert_eq!(response.status, 202, "{}", response.text());

    // Plain HTTP on the TLS port gets no answer, not a silent acceptance.
    assert!(common::try_request(runner.addr, "POST", "/v1/batch", &[], &body).is_err());
    let data = runner.data_dir.clone();
    assert!(runner.stop().success());
    assert_eq!(common::dump(&data), vec![("tls".to_string(), 1)]);
}
