//! rustls configurations for both ends of the runner ⇄ control plane link: TLS 1.3 only, ALPN `http/1.1`, and
//! trust anchored in the control plane's own CA alone (never the system roots).

use std::sync::Arc;

use rustls::pki_types::PrivateKeyDer;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::{cert_chain, CertError, KeyAndCert};

const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Control-plane server: TLS 1.3 only, ALPN http/1.1, client certificates verified against the CA (expired ones and
/// those of other CAs fail the handshake) but optional at the handshake: the HTTP layer requires them on
/// `/v1/runner/*`, while enrollment, the admin API and health checks work without one.
pub fn server_config(ca_pem: &str, cert: &KeyAndCert) -> Result<Arc<ServerConfig>, CertError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca_pem)?), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| CertError::Tls(rustls::Error::General(e.to_string())))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(cert_chain(&cert.cert_pem)?, private_key(&cert.key_pem)?)?;
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// Runner / admin client: TLS 1.3 only, trusting only `ca_pem`, with an optional client certificate.
pub fn client_config(ca_pem: &str, client: Option<&KeyAndCert>) -> Result<Arc<ClientConfig>, CertError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots(ca_pem)?);
    let mut config = match client {
        Some(identity) => {
            builder.with_client_auth_cert(cert_chain(&identity.cert_pem)?, private_key(&identity.key_pem)?)?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

fn roots(ca_pem: &str) -> Result<RootCertStore, CertError> {
    let mut roots = RootCertStore::empty();
    for cert in cert_chain(ca_pem)? {
        roots.add(cert)?;
    }
    Ok(roots)
}

fn private_key(pem: &str) -> Result<PrivateKeyDer<'static>, CertError> {
    use rustls::pki_types::pem::PemObject;
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => CertError::NoPrivateKey,
        other => CertError::Parse { what: "private key PEM", reason: other.to_string() },
    })
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::{fingerprint, generate_key_and_csr, Ca};

    fn now_ms() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
    }

    fn runner_identity(ca: &Ca, from_ms: u64, to_ms: u64) -> (KeyAndCert, String) {
        let csr = generate_key_and_csr("runner").unwrap();
        let issued = ca.sign_runner_csr(&csr.csr_pem, "t", "r_1", from_ms, to_ms).unwrap();
        (KeyAndCert { key_pem: csr.key_pem, cert_pem: issued.cert_pem }, issued.fingerprint)
    }

    /// One handshake plus a two-byte exchange on loopback. Returns what the server saw (the client certificate's
    /// fingerprint, if any) and whether the client got the server's bytes. In TLS 1.3 a client can finish its side
    /// before the server rejects its certificate, so the client's verdict comes from reading.
    async fn exchange(server: Arc<ServerConfig>, client: Arc<ClientConfig>) -> (Result<Option<String>, String>, bool) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server_side = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut stream = tokio_rustls::TlsAcceptor::from(server).accept(tcp).await.map_err(|e| e.to_string())?;
            let peer = stream.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| fingerprint(c));
            stream.write_all(b"ok").await.map_err(|e| e.to_string())?;
            stream.flush().await.map_err(|e| e.to_string())?;
            Ok(peer)
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let client_ok = match tokio_rustls::TlsConnector::from(client).connect(name, tcp).await {
            Ok(mut stream) => {
                let mut buf = [0u8; 2];
                stream.read_exact(&mut buf).await.is_ok() && &buf == b"ok"
            }
            Err(_) => false,
        };
        (server_side.await.unwrap(), client_ok)
    }

    fn setup() -> (Ca, Arc<ServerConfig>) {
        let ca = Ca::generate("ca", 30).unwrap();
        let server_cert = ca.issue_server(&["localhost".into(), "127.0.0.1".into()], 30).unwrap();
        let config = server_config(ca.cert_pem(), &server_cert).unwrap();
        (ca, config)
    }

    #[tokio::test]
    async fn valid_client_certificate_is_seen_by_the_server() {
        let (ca, server) = setup();
        let (identity, fp) = runner_identity(&ca, now_ms() - 60_000, now_ms() + 3_600_000);
        let client = client_config(ca.cert_pem(), Some(&identity)).unwrap();
        let (seen, client_ok) = exchange(server, client).await;
        assert_eq!(seen.unwrap(), Some(fp));
        assert!(client_ok);
    }

    #[tokio::test]
    async fn no_client_certificate_is_allowed_at_the_handshake() {
        let (ca, server) = setup();
        let client = client_config(ca.cert_pem(), None).unwrap();
        let (seen, client_ok) = exchange(server, client).await;
        assert_eq!(seen.unwrap(), None);
        assert!(client_ok);
    }

    #[tokio::test]
    async fn certificate_of_another_ca_fails() {
        let (ca, server) = setup();
        let other = Ca::generate("other", 30).unwrap();
        let (identity, _) = runner_identity(&other, now_ms() - 60_000, now_ms() + 3_600_000);
        let client = client_config(ca.cert_pem(), Some(&identity)).unwrap();
        let (seen, client_ok) = exchange(server, client).await;
        assert!(seen.is_err());
        assert!(!client_ok);
    }

    #[tokio::test]
    async fn expired_certificate_fails() {
        let (ca, server) = setup();
        let (identity, _) = runner_identity(&ca, now_ms() - 7_200_000, now_ms() - 3_600_000);
        let client = client_config(ca.cert_pem(), Some(&identity)).unwrap();
        let (seen, client_ok) = exchange(server, client).await;
        assert!(seen.unwrap_err().to_lowercase().contains("expired"));
        assert!(!client_ok);
    }

    #[tokio::test]
    async fn tls12_only_client_fails() {
        let (ca, server) = setup();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut client = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(roots(ca.cert_pem()).unwrap())
            .with_no_client_auth();
        client.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
        let (seen, client_ok) = exchange(server, Arc::new(client)).await;
        assert!(seen.is_err());
        assert!(!client_ok);
    }

    #[tokio::test]
    async fn client_trusts_only_its_ca() {
        let (_, server) = setup();
        let other = Ca::generate("other", 30).unwrap();
        let client = client_config(other.cert_pem(), None).unwrap();
        let (seen, client_ok) = exchange(server, client).await;
        assert!(seen.is_err());
        assert!(!client_ok);
    }

    #[test]
    fn bad_pem_is_an_error() {
        let (ca, _) = setup();
        assert!(matches!(client_config("", None), Err(CertError::NoCertificate)));
        let broken = KeyAndCert { key_pem: String::new(), cert_pem: ca.cert_pem().to_string() };
        assert!(matches!(server_config(ca.cert_pem(), &broken), Err(CertError::NoPrivateKey)));
    }
}
