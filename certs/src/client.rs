//! A small HTTPS client over tokio-rustls and hyper's HTTP/1.1 client connection, for the runner's uploader and the
//! admin CLI. A [`Connection`] carries one request at a time and is kept open between requests, so an uploader can
//! hold one per concurrency slot; [`request`] is the one-shot form.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1;
use hyper::header::HOST;
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How long [`Connection::connect`] waits for TCP plus the TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body read; anything bigger is an error rather than unbounded memory.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid URL `{0}`: expected https://host[:port][/path]")]
    InvalidUrl(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
    #[error("HTTP exchange failed: {0}")]
    Http(#[from] hyper::Error),
    #[error("response body over {MAX_RESPONSE_BYTES} bytes")]
    ResponseTooLarge,
    #[error("timed out")]
    Timeout,
}

impl ClientError {
    /// Whether trying again later (on a new connection) may succeed; false for mistakes in the request itself.
    pub fn is_transient(&self) -> bool {
        !matches!(self, ClientError::InvalidUrl(_) | ClientError::InvalidRequest(_))
    }
}

/// An HTTP answer with its whole body.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One open HTTPS connection to a server.
pub struct Connection {
    sender: http1::SendRequest<Full<Bytes>>,
    authority: String,
    /// Path of the URL given to `connect`, without a trailing slash; prefixed to every request path.
    base_path: String,
}

impl Connection {
    /// Connects to the origin of `url` (`https://host[:port][/base]`) within [`CONNECT_TIMEOUT`].
    pub async fn connect(config: Arc<ClientConfig>, url: &str) -> Result<Connection, ClientError> {
        Connection::connect_with_timeout(config, url, CONNECT_TIMEOUT).await
    }

    pub async fn connect_with_timeout(
        config: Arc<ClientConfig>,
        url: &str,
        timeout: Duration,
    ) -> Result<Connection, ClientError> {
        let target = Target::parse(url)?;
        let server_name =
            ServerName::try_from(target.host.clone()).map_err(|_| ClientError::InvalidUrl(url.to_string()))?;
        let connect = async {
            let tcp = TcpStream::connect((target.host.as_str(), target.port)).await.map_err(ClientError::Connect)?;
            let _ = tcp.set_nodelay(true);
            let tls = TlsConnector::from(config).connect(server_name, tcp).await.map_err(ClientError::Tls)?;
            let (sender, connection) = http1::handshake(TokioIo::new(tls)).await?;
            // The connection task ends when the server closes or the `Connection` (its sender) is dropped.
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok::<_, ClientError>(sender)
        };
        let sender = tokio::time::timeout(timeout, connect).await.map_err(|_| ClientError::Timeout)??;
        let base_path = target.path_prefix();
        Ok(Connection { sender, authority: target.authority, base_path })
    }

    /// Whether the server (or an error) closed the connection; then a new one is needed.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Sends one request (`path` is appended to the connection URL's path) and reads the whole answer, all within
    /// `timeout`. After a timeout or error the connection should be dropped.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<Response, ClientError> {
        let method = Method::from_bytes(method.as_bytes()).map_err(|e| ClientError::InvalidRequest(e.to_string()))?;
        let mut builder =
            Request::builder().method(method).uri(format!("{}{path}", self.base_path)).header(HOST, &self.authority);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(body)).map_err(|e| ClientError::InvalidRequest(e.to_string()))?;
        let exchange = async {
            self.sender.ready().await?;
            let response = self.sender.send_request(request).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES).collect().await.map_err(|e| {
                match e.downcast::<hyper::Error>() {
                    Ok(e) => ClientError::Http(*e),
                    Err(_) => ClientError::ResponseTooLarge,
                }
            })?;
            Ok(Response { status: parts.status.as_u16(), headers: parts.headers, body: body.to_bytes() })
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| ClientError::Timeout)?
    }
}

/// One request on a new connection: `url` is the full URL including the path.
pub async fn request(
    config: Arc<ClientConfig>,
    url: &str,
    method: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    timeout: Duration,
) -> Result<Response, ClientError> {
    let target = Target::parse(url)?;
    let origin = format!("https://{}", target.authority);
    let started = tokio::time::Instant::now();
    let mut connection = Connection::connect_with_timeout(config, &origin, timeout).await?;
    let left = timeout.saturating_sub(started.elapsed());
    connection.send(method, &target.path, headers, body, left).await
}

/// The parts of an `https://` URL a connection needs.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    /// Host name or IP address, without IPv6 brackets.
    host: String,
    port: u16,
    /// `host[:port]` as written, for the Host header.
    authority: String,
    /// Path and query, at least `/`.
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, ClientError> {
        let invalid = || ClientError::InvalidUrl(url.to_string());
        let rest = url.strip_prefix("https://").ok_or_else(invalid)?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) if rest[at..].starts_with('/') => (&rest[..at], rest[at..].to_string()),
            Some(at) => (&rest[..at], format!("/{}", &rest[at..])),
            None => (rest, "/".to_string()),
        };
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']').ok_or_else(invalid)?;
            let port = match after {
                "" => 443,
                _ => after.strip_prefix(':').and_then(|p| p.parse().ok()).ok_or_else(invalid)?,
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, port.parse().map_err(|_| invalid())?),
                None => (authority, 443),
            }
        };
        if host.is_empty() || authority.contains('@') {
            return Err(invalid());
        }
        Ok(Target { host: host.to_string(), port, authority: authority.to_string(), path })
    }

    fn path_prefix(&self) -> String {
        let path = self.path.split('?').next().unwrap_or_default();
        path.trim_end_matches('/').to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use hyper::body::Incoming;
    use hyper::server::conn::http1 as server_http1;
    use hyper::service::service_fn;
    use tokio::net::TcpListener;

    use super::*;
    use crate::{client_config, server_config, Ca};

    #[test]
    fn parses_urls() {
        let t = Target::parse("https://localhost:7443/v1/x?a=b").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.authority.as_str(), t.path.as_str()),
            ("localhost", 7443, "localhost:7443", "/v1/x?a=b")
        );
        let t = Target::parse("https://[::1]:9/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 9));
        let t = Target::parse("https://cp.example.com").unwrap();
        assert_eq!((t.port, t.path.as_str(), t.path_prefix().as_str()), (443, "/", ""));
        assert_eq!(Target::parse("https://h/base/").unwrap().path_prefix(), "/base");
        for bad in ["http://h", "https://", "https://h:x", "https://[::1", "https://u@h", "https://h:99999"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn reuses_one_connection_for_several_requests() {
        let ca = Ca::generate("ca", 1).unwrap();
        let cert = ca.issue_server(&["localhost".into()], 1).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(server_config(ca.cert_pem(), &cert).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepts.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let tls = acceptor.accept(tcp).await.unwrap();
                    let service = service_fn(|request: hyper::Request<Incoming>| async move {
                        let path = request.uri().path().to_string();
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        let answer = format!("{path}:{}", body.len());
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(answer))))
                    });
                    let _ = server_http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });
        let config = client_config(ca.cert_pem(), None).unwrap();
        let mut connection =
            Connection::connect(config.clone(), &format!("https://localhost:{port}/base")).await.unwrap();
        for n in 0..3 {
            let response = connection
                .send("POST", "/v1/x", &[("x-test", "1")], Bytes::from(vec![0u8; n * 10]), Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(response.status, 200);
            assert_eq!(response.body, format!("/base/v1/x:{}", n * 10));
        }
        assert_eq!(accepts.load(std::sync::atomic::Ordering::SeqCst), 1);
        let one_shot =
            request(config, &format!("https://localhost:{port}/y"), "GET", &[], Bytes::new(), Duration::from_secs(5))
                .await
                .unwrap();
        assert_eq!(one_shot.body, "/y:0");
        let refused = request(
            client_config(ca.cert_pem(), None).unwrap(),
            "https://localhost:1/",
            "GET",
            &[],
            Bytes::new(),
            Duration::from_secs(5),
        )
        .await;
        assert!(matches!(refused, Err(ClientError::Connect(_))));
    }
}
