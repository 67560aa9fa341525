//! The HTTPS client: hyper-util's pooled HTTP/1.1 client over rustls (hyper-rustls), with a deadline per request
//! and a bounded response body. A [`Client`] is made for one origin and one TLS configuration (a runner's
//! identity: a renewed certificate gets a new client) and keeps its connections open between requests, so an
//! uploader with N requests in flight holds about N connections; [`request`] is the one-shot form.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{HeaderMap, Method, Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::ClientConfig;

/// How long a new connection may take: TCP plus the TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body read; anything bigger is an error rather than unbounded memory.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;
/// How long an idle connection is kept for the next request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid URL `{0}`: expected https://host[:port][/path]")]
    InvalidUrl(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("HTTP exchange failed: {0}")]
    Http(String),
    #[error("response body over {MAX_RESPONSE_BYTES} bytes")]
    ResponseTooLarge,
    #[error("timed out")]
    Timeout,
}

impl ClientError {
    /// Whether trying again later may succeed; false for mistakes in the request itself.
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

/// A pooled HTTPS client for one origin (`https://host[:port]`) and base path; cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// `https://host[:port]`.
    origin: String,
    /// Path of the URL given to `new`, without a trailing slash; prefixed to every request path.
    base_path: String,
}

impl Client {
    /// A client for `url` (`https://host[:port][/base]`) with `config`. Connects on first use.
    pub fn new(config: Arc<ClientConfig>, url: &str) -> Result<Client, ClientError> {
        let (origin, base_path) = split_url(url)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        // The connector sets ALPN itself (http/1.1) and refuses a configuration that already names protocols.
        let mut tls = ClientConfig::clone(&config);
        tls.alpn_protocols.clear();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .wrap_connector(http);
        let inner = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .build(https);
        Ok(Client { inner, origin, base_path })
    }

    /// Sends one request (`path` is appended to the client URL's path) and reads the whole answer, all within
    /// `timeout` (connecting included).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<Response, ClientError> {
        let method = Method::from_bytes(method.as_bytes()).map_err(|e| ClientError::InvalidRequest(e.to_string()))?;
        let uri = format!("{}{}{path}", self.origin, self.base_path);
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(body)).map_err(|e| ClientError::InvalidRequest(e.to_string()))?;
        let exchange = async {
            let response = self.inner.request(request).await.map_err(|e| {
                if e.is_connect() {
                    ClientError::Connect(error_chain(&e))
                } else {
                    ClientError::Http(error_chain(&e))
                }
            })?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES).collect().await.map_err(|e| {
                match e.downcast::<hyper::Error>() {
                    Ok(e) => ClientError::Http(e.to_string()),
                    Err(_) => ClientError::ResponseTooLarge,
                }
            })?;
            Ok(Response { status: parts.status.as_u16(), headers: parts.headers, body: body.to_bytes() })
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| ClientError::Timeout)?
    }
}

/// One request on a client of its own: `url` is the full URL including the path.
pub async fn request(
    config: Arc<ClientConfig>,
    url: &str,
    method: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    timeout: Duration,
) -> Result<Response, ClientError> {
    let uri: Uri = url.parse().map_err(|_| ClientError::InvalidUrl(url.to_string()))?;
    let authority = uri.authority().ok_or_else(|| ClientError::InvalidUrl(url.to_string()))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Client::new(config, &format!("https://{authority}"))?.send(method, path, headers, body, timeout).await
}

/// `https://host[:port]` and the base path (no trailing slash) of `url`, parsed by `http`'s URI parser.
fn split_url(url: &str) -> Result<(String, String), ClientError> {
    let invalid = || ClientError::InvalidUrl(url.to_string());
    let uri: Uri = url.parse().map_err(|_| invalid())?;
    if uri.scheme_str() != Some("https") {
        return Err(invalid());
    }
    let authority = uri.authority().ok_or_else(invalid)?;
    // A port that is not a number, or user info, has no place in a control-plane URL.
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return Err(invalid());
    }
    if authority.as_str().rsplit_once(':').is_some_and(|(_, port)| !port.ends_with(']') && authority.port().is_none()) {
        return Err(invalid());
    }
    let base_path = uri.path().trim_end_matches('/').to_string();
    Ok((format!("https://{authority}"), base_path))
}

/// An error and its sources, one after the other (hyper-util's errors say little without them).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use hyper::body::Incoming;
    use hyper::server::conn::http1 as server_http1;
    use hyper::service::service_fn;
    use tokio::net::TcpListener;

    use super::*;
    use hyper_util::rt::TokioIo;
    use traceflow_certs::{client_config, server_config, Ca};

    #[test]
    fn parses_urls() {
        let split = |url: &str| split_url(url).unwrap();
        assert_eq!(split("https://localhost:7443/v1/x?a=b"), ("https://localhost:7443".into(), "/v1/x".into()));
        assert_eq!(split("https://[::1]:9/"), ("https://[::1]:9".into(), String::new()));
        assert_eq!(split("https://cp.example.com"), ("https://cp.example.com".into(), String::new()));
        assert_eq!(split("https://h/base/").1, "/base");
        for bad in ["http://h", "https://", "https://h:x", "https://[::1", "https://u@h", "https://h:99999"] {
            assert!(split_url(bad).is_err(), "{bad}");
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
        let client = Client::new(config.clone(), &format!("https://localhost:{port}/base")).unwrap();
        for n in 0..3 {
            let response = client
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
