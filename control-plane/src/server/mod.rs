//! The control plane's HTTPS front: one TLS 1.3 listener (client certificates optional at the handshake), routing,
//! the runner identity taken from the peer certificate, bounded bodies and uploads, the long-poll check-in,
//! [`ApiError`]s turned into answers, and graceful shutdown (held check-ins answer at once, new uploads get 503,
//! in-flight ones finish, the store flushes, then exit).

mod admin_api;
mod exchange;
mod runner_api;

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use hyper::http::request::Parts;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use traceflow_certs::CertError;
use traceflow_http::body::{content_length, read_body, BodyError};
use traceflow_http::serve::{json_response, ConnectionLimits};
use traceflow_protocol::{Codec, CodecError};

use crate::data_dir::{self, DataDirError};
use crate::enroll::Enrollment;
use crate::error::ApiError;
use crate::metrics::{Metrics, OutcomeLabel, RouteLabel};
use crate::policies::{self, Policies};
use crate::receiver::{self, Committer, Stored, Upload, MAX_CHUNK_BYTES};
use crate::store::{RunnerRecord, Store, StoreError};
use crate::throttle::AuthThrottle;
use crate::{admin, now_ms, runners};
use admin_api::*;
use exchange::*;
use runner_api::*;
use traceflow_store::space::SpaceGuard;

const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Bound on a connection's read buffer: hyper's own default (about 400 KiB), large enough for chunk uploads.
const MAX_BUF_SIZE: usize = 8192 + 4096 * 100;

const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// After in-flight requests are done, how long idle connections get to close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Largest JSON request body (enroll, renew, check-in, admin).
const MAX_JSON_BYTES: usize = 64 * 1024;

/// Largest body of the policy endpoints: a policy document of up to 4 MiB, JSON-escaped, plus the rest.
const MAX_POLICY_BODY_BYTES: usize = 2 * traceflow_protocol::policy::MAX_DOCUMENT_BYTES + MAX_JSON_BYTES;

/// A refused request's unread body is read and dropped up to this size (and for at most [`DRAIN_TIMEOUT`]), so
/// the client gets to read the answer instead of a connection reset; bigger bodies close the connection.
const DRAIN_LIMIT: u64 = 8 * 1024 * 1024;

const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request body may take to arrive once its head is in (64 MiB at about 0.5 MB/s).
const BODY_TIMEOUT: Duration = Duration::from_secs(120);

/// How `traceflow-cp serve` runs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Validity of runner certificates issued at enrollment and renewal.
    pub runner_cert_ttl: Duration,
    /// `poll_after_ms` answered to check-ins: the most a runner waits (with jitter) before its next check-in.
    pub poll_after_ms: u64,
    /// The longest a check-in is held waiting for a newer policy (the runner's `wait_ms` may ask for less).
    pub poll_timeout: Duration,
    /// Uploads received or committed at once; beyond that, 503 with Retry-After.
    pub max_uploads: usize,
    /// Upload body bytes held in memory at once (a chunk without Content-Length or with a Content-Encoding counts
    /// as the 64 MiB it may grow to); beyond that, 503 with Retry-After.
    pub upload_memory_bytes: usize,
    /// Concurrent connections; further ones wait in the kernel's accept queue.
    pub max_connections: usize,
    /// How long a shutdown waits for in-flight uploads.
    pub shutdown_grace: Duration,
    /// Memory the storage engine may use as page cache.
    pub cache_bytes: u64,
    /// Free bytes kept on the data dir's filesystem: below it uploads get 503 `disk_full` (the runner keeps the
    /// chunk and retries) and `/readyz` says not ready. `None`: the larger of 256 MiB and 2 % of the filesystem.
    pub min_free_bytes: Option<u64>,
    /// A second, plain-HTTP listener that serves `GET /metrics` alone without a credential, for a Prometheus on a
    /// private network; on the main listener `/metrics` needs an admin token.
    pub metrics_listen: Option<SocketAddr>,
}

impl ServeOptions {
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> ServeOptions {
        ServeOptions {
            data_dir: data_dir.into(),
            listen,
            runner_cert_ttl: Duration::from_secs(30 * 86_400),
            poll_after_ms: 500,
            poll_timeout: Duration::from_secs(30),
            max_uploads: 64,
            upload_memory_bytes: 1024 * 1024 * 1024,
            max_connections: 4096,
            shutdown_grace: Duration::from_secs(10),
            cache_bytes: 256 * 1024 * 1024,
            metrics_listen: None,
            min_free_bytes: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("TLS setup failed: {0}")]
    Tls(#[from] CertError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot start the committer thread: {0}")]
    Thread(std::io::Error),
    #[error("cannot read the free space of {}: {source}", dir.display())]
    Space { dir: PathBuf, source: std::io::Error },
}

type Body = Full<Bytes>;

struct App {
    store: Arc<Store>,
    committer: Committer,
    enrollment: Enrollment,
    policies: Policies,
    metrics: Arc<Metrics>,
    uploads: Semaphore,
    /// Permits are KiB of upload bodies.
    upload_memory: Semaphore,
    shutting_down: AtomicBool,
    /// Addresses that keep presenting wrong admin tokens.
    auth_throttle: AuthThrottle,
    /// Free space of the data dir's filesystem.
    space: SpaceGuard,
    options: ServeOptions,
}

/// A bound, not yet running, control plane.
pub struct Server {
    app: Arc<App>,
    listener: TcpListener,
    acceptor: TlsAcceptor,
    metrics_listener: Option<TcpListener>,
}

impl Server {
    /// Loads the data directory, opens the store and binds the listener.
    pub async fn bind(options: ServeOptions) -> Result<Server, ServerError> {
        let loaded = data_dir::load(&options.data_dir)?;
        let tls = traceflow_certs::server_config(loaded.ca.cert_pem(), &loaded.server)?;
        let store = Arc::new(Store::open(&options.data_dir.join(data_dir::DB), options.cache_bytes)?);
        let metrics = Arc::new(Metrics::new());
        let committer = Committer::start(store.clone(), metrics.clone()).map_err(ServerError::Thread)?;
        let policy_key = loaded.policy_public_key_base64();
        let enrollment = Enrollment::new(store.clone(), loaded.ca, policy_key, options.runner_cert_ttl);
        let policies = Policies::new(store.clone(), loaded.policy_key);
        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(|source| ServerError::Bind { addr: options.listen, source })?;
        let space = SpaceGuard::new(&options.data_dir, options.min_free_bytes)
            .map_err(|source| ServerError::Space { dir: options.data_dir.clone(), source })?;
        let metrics_listener = match options.metrics_listen {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?),
            None => None,
        };
        let app = Arc::new(App {
            store,
            committer,
            enrollment,
            policies,
            metrics,
            uploads: Semaphore::new(options.max_uploads),
            upload_memory: Semaphore::new((options.upload_memory_bytes / 1024).max(1)),
            shutting_down: AtomicBool::new(false),
            auth_throttle: AuthThrottle::default(),
            space,
            options,
        });
        Ok(Server { app, listener, acceptor: TlsAcceptor::from(tls), metrics_listener })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where the plain metrics listener is bound, if there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|listener| listener.local_addr().ok())
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.app.metrics.clone()
    }

    /// Serves until `shutdown` resolves, then drains and flushes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Server { app, listener, acceptor, metrics_listener } = self;
        let max_connections = app.options.max_connections;
        let (stop_tx, stop_rx) = watch::channel(false);
        let connections = Arc::new(Semaphore::new(max_connections));
        if let Some(listener) = metrics_listener {
            tokio::spawn(serve_metrics(listener, app.metrics.clone(), stop_rx.clone()));
        }
        let watching = tokio::spawn(watch_space(app.clone(), stop_rx.clone()));
        let accepting = tokio::spawn(accept_loop(listener, acceptor, app.clone(), connections.clone(), stop_rx));

        shutdown.await;
        tracing::info!("shutting down: ending held check-ins, refusing new uploads, finishing in-flight ones");
        app.shutting_down.store(true, Ordering::SeqCst);
        app.policies.close();
        let deadline = Instant::now() + app.options.shutdown_grace;
        while app.uploads.available_permits() < app.options.max_uploads && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = stop_tx.send(true);
        let _ = accepting.await;
        let _ = watching.await;
        let close_deadline = Instant::now() + CLOSE_TIMEOUT;
        while connections.available_permits() < max_connections && Instant::now() < close_deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        app.committer.shutdown().await;
        if let Err(e) = app.store.sync().await {
            tracing::error!(error = %e, "final flush failed");
        }
        tracing::info!("store flushed; bye");
    }
}

/// Reads the data dir's free space every second, logging once when the guard's state changes.
async fn watch_space(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = interval.tick() => {}
        }
        app.space.watch("uploads");
        app.metrics.storage_free_bytes.set(i64::try_from(app.space.free_bytes()).unwrap_or(i64::MAX));
        app.metrics.storage_low.set(i64::from(app.space.is_low()));
    }
}

/// The plain metrics listener: `GET /metrics` and nothing else, a few connections at a time.
async fn serve_metrics(listener: TcpListener, metrics: Arc<Metrics>, mut stop: watch::Receiver<bool>) {
    let connections = Arc::new(Semaphore::new(16));
    while let Some((permit, stream)) = traceflow_http::serve::accept(&listener, &connections, &mut stop).await {
        let (metrics, stop) = (metrics.clone(), stop.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |request: Request<Incoming>| {
                let response = match (request.method(), request.uri().path()) {
                    (&Method::GET, "/metrics") => metrics_response(&metrics),
                    _ => error_response(&ApiError::NotFound),
                };
                async move { Ok::<_, Infallible>(response) }
            });
            let limits = ConnectionLimits { header_timeout: HEADER_TIMEOUT, max_buf_size: MAX_BUF_SIZE };
            traceflow_http::serve::serve_connection(stream, service, limits, stop, None).await;
        });
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Arc<App>,
    connections: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    while let Some((permit, stream)) = traceflow_http::serve::accept(&listener, &connections, &mut stop).await {
        let (app, acceptor, stop) = (app.clone(), acceptor.clone(), stop.clone());
        let remote = stream.peer_addr().ok().map(|addr| addr.ip());
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let peer: Option<Arc<str>> = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|certs| certs.first())
                        .map(|cert| traceflow_certs::fingerprint(cert).into());
                    serve_connection(stream, app, peer, remote, stop).await
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        });
    }
}

async fn serve_connection<S>(
    stream: S,
    app: Arc<App>,
    peer: Option<Arc<str>>,
    remote: Option<IpAddr>,
    stop: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let (app, peer) = (app.clone(), peer.clone());
        async move { Ok::<_, Infallible>(route(&app, peer.as_deref(), remote, request).await) }
    });
    let limits = ConnectionLimits { header_timeout: HEADER_TIMEOUT, max_buf_size: MAX_BUF_SIZE };
    traceflow_http::serve::serve_connection(stream, service, limits, stop, None).await;
}

async fn route(
    app: &Arc<App>,
    peer: Option<&str>,
    remote: Option<IpAddr>,
    request: Request<Incoming>,
) -> Response<Body> {
    let (head, body) = request.into_parts();
    let mut exchange = Exchange { head, body: Some(body) };
    let request = &mut exchange;
    let method = request.head.method.clone();
    let path = request.head.uri.path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let post = method == Method::POST;
    let get = method == Method::GET;
    let (route, result) = match segments.as_slice() {
        ["healthz"] if get => ("healthz", Ok(json_response(StatusCode::OK, &json!({ "status": "ok" })))),
        ["readyz"] if get => ("readyz", Ok(readiness(app))),
        ["metrics"] if get => ("metrics", admin_caller(app, remote, request).map(|_| metrics_response(&app.metrics))),
        ["v1", "enroll"] if post => ("enroll", enroll(app, request).await),
        ["v1", "runner", "upload"] if post => ("upload", upload(app, peer, request).await),
        ["v1", "runner", "checkin"] if post => ("checkin", checkin(app, peer, request).await),
        ["v1", "runner", "renew"] if post => ("renew", renew(app, peer, request).await),
        ["v1", "admin", rest @ ..] => {
            let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            ("admin", admin_route(app, remote, &method, &rest, request).await)
        }
        ["healthz" | "readyz" | "metrics"] | ["v1", "enroll"] | ["v1", "runner", "upload" | "checkin" | "renew"] => {
            ("other", Err(ApiError::MethodNotAllowed))
        }
        _ => ("other", Err(ApiError::NotFound)),
    };
    let response = result.unwrap_or_else(|error| error_response(&error));
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE {
        exchange.drain().await;
    }
    app.metrics.requests.get_or_create(&RouteLabel { route, status: response.status().as_u16() }).inc();
    response
}

fn outcome(result: &Result<Response<Body>, ApiError>, ok: &'static str) -> OutcomeLabel {
    OutcomeLabel { outcome: result.as_ref().map_or_else(ApiError::code, |_| ok) }
}

fn ok(body: Value) -> Response<Body> {
    json_response(StatusCode::OK, &body)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|_| ApiError::Unavailable("request was interrupted".into()))?
}

fn readiness(app: &App) -> Response<Body> {
    let mut problems = Vec::new();
    if app.shutting_down.load(Ordering::SeqCst) {
        problems.push("shutting_down");
    }
    if !app.committer.is_alive() {
        problems.push("store_writer_stopped");
    }
    if app.space.is_low() {
        problems.push("disk_full");
    }
    if problems.is_empty() {
        json_response(StatusCode::OK, &json!({ "status": "ready" }))
    } else {
        json_response(StatusCode::SERVICE_UNAVAILABLE, &json!({ "status": "not_ready", "problems": problems }))
    }
}

/// The admin of the request's token; an address that keeps presenting wrong tokens is answered 429 first.
fn admin_caller(app: &App, remote: Option<IpAddr>, request: &Exchange) -> Result<admin::Admin, ApiError> {
    let now = Instant::now();
    if let Some(wait) = remote.and_then(|addr| app.auth_throttle.check(addr, now)) {
        app.metrics.admin_auth_throttled.inc();
        return Err(ApiError::TooManyAttempts(wait));
    }
    let caller = admin::authenticate(&app.store, request.header(AUTHORIZATION));
    if matches!(caller, Err(ApiError::AdminTokenInvalid)) {
        app.metrics.admin_auth_failures.inc();
        if let Some(addr) = remote {
            app.auth_throttle.failed(addr, now);
        }
    }
    caller
}

fn metrics_response(metrics: &Metrics) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(metrics.encode())));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    response
}

/// A body that broke off or came too slowly is the network's fault, so the answer is transient.
fn body_error(error: BodyError, too_large: ApiError) -> ApiError {
    match error {
        BodyError::TooLarge => too_large,
        BodyError::Read(e) => ApiError::Unavailable(format!("cannot read the body: {e}")),
        BodyError::Late => ApiError::Unavailable(format!("the body did not arrive within {BODY_TIMEOUT:?}")),
    }
}

fn error_response(error: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = json_response(status, &error.body());
    if let Some(seconds) = error.retry_after() {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body is not read; the connection cannot carry another request.
        response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

pub use traceflow_http::serve::shutdown_signal;
