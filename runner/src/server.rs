//! The runner's HTTP(S) front: binds the listener, routes requests, turns [`IngestError`]s into answers, and
//! shuts down gracefully (new batches get 503, in-flight ones finish, the buffer flushes, then exit).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE, RETRY_AFTER};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use prometheus_client::metrics::gauge::Gauge;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use traceflow_http::serve::{json_response, ConnectionLimits, Connections, Slot};

use crate::buffer::{Buffer, BufferOptions, Recovery, StoreError};
use crate::config::{RunnerConfig, TlsConfig, UploadConfig};
use crate::identity::{Identity, IdentityError};
use crate::ingest::cors::CorsDecision;
use crate::ingest::{Ingest, IngestError};
use crate::metrics::{Metrics, Outcome};
use crate::policy::Policies;
use crate::upload;
use crate::vault::{Vault, VaultError, VaultOptions};

const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// After in-flight requests are done, how long idle connections get to close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot open the buffer: {0}")]
    Buffer(#[from] StoreError),
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("{0}")]
    Policy(String),
    #[error("cannot open the token vault: {0}")]
    Vault(#[from] VaultError),
    #[error("cannot load the runner identity: {0}")]
    Identity(#[from] IdentityError),
    #[error("cannot start the PII scrub threads: {0}")]
    ScrubThreads(std::io::Error),
}

type Body = Full<Bytes>;

struct App {
    ingest: Ingest,
    metrics: Arc<Metrics>,
}

/// Counts one ingest request in `ingest_in_flight` for as long as it lives. hyper drops a request's future when the
/// client hangs up, so only a drop guard keeps the count (which shutdown waits on) right.
struct InFlight<'a>(&'a Gauge);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a Gauge) -> InFlight<'a> {
        gauge.inc();
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A bound, not yet running, runner.
pub struct Server {
    app: Arc<App>,
    buffer: Arc<Buffer>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    max_connections: usize,
    grace: Duration,
    recovery: Recovery,
    metrics: Arc<Metrics>,
    /// Set when the data dir holds an enrolled identity and uploads are enabled.
    uploader: Option<(Identity, UploadConfig, PathBuf)>,
    policies: Arc<Policies>,
}

impl Server {
    /// Opens the buffer and binds the listener; `config` must have been validated.
    pub async fn bind(config: &RunnerConfig) -> Result<Server, ServerError> {
        let metrics = Arc::new(Metrics::new());
        let options =
            BufferOptions { min_free_bytes: config.storage.min_free_bytes, ..BufferOptions::from(&config.buffer) };
        let (buffer, recovery) = Buffer::open(&config.data_dir, options, metrics.clone())?;
        let buffer = Arc::new(buffer);
        let vault =
            Vault::open(&buffer.store().db, VaultOptions::new(&config.data_dir, &config.vault), metrics.clone())?;
        let identity = if Identity::exists(&config.data_dir) { Some(Identity::load(&config.data_dir)?) } else { None };
        let policies = Arc::new(
            Policies::open(config, buffer.clone(), metrics.clone(), identity.as_ref().map(|i| &i.info))
                .map_err(ServerError::Policy)?,
        );
        if policies.active().projects.is_empty() {
            tracing::warn!("no project keys yet: every batch gets 401 until a policy with projects arrives");
        }
        let uploader = match (config.upload.enabled, identity) {
            (true, Some(identity)) => Some((identity, config.upload.clone(), config.data_dir.clone())),
            _ => None,
        };
        let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServerError::Bind { addr: config.listen, source })?;
        let ingest = Ingest::new(config, buffer.clone(), Arc::new(vault), policies.clone(), metrics.clone())
            .map_err(ServerError::ScrubThreads)?;
        let app = Arc::new(App { ingest, metrics: metrics.clone() });
        Ok(Server {
            app,
            buffer,
            listener,
            tls,
            max_connections: config.max_connections,
            grace: Duration::from_secs(config.shutdown_grace_secs),
            recovery,
            metrics,
            uploader,
            policies,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn buffer(&self) -> Arc<Buffer> {
        self.buffer.clone()
    }

    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// Serves until `shutdown` resolves, then drains and flushes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Server { app, buffer, listener, tls, max_connections, grace, metrics, uploader, policies, .. } = self;
        let uploader = match uploader {
            Some((identity, config, data_dir)) => {
                tracing::info!(runner_id = %identity.info.runner_id, url = %identity.url(config.control_plane_url.as_deref()), "uploading to the control plane");
                match upload::start(buffer.clone(), metrics, policies, identity, config, data_dir) {
                    Ok(handle) => Some(handle),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start the uploader; buffering only");
                        None
                    }
                }
            }
            None => None,
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let connections = Connections::new(max_connections);
        let ticker = tokio::spawn({
            let buffer = buffer.clone();
            async move {
                let mut interval = tokio::time::interval(Duration::from_secs(1));
                loop {
                    interval.tick().await;
                    buffer.tick().await;
                }
            }
        });
        let acceptor = tokio::spawn(accept_loop(listener, tls, app.clone(), connections.clone(), stop_rx));

        shutdown.await;
        tracing::info!("shutting down: refusing new batches, finishing in-flight ones");
        app.ingest.begin_shutdown();
        let deadline = Instant::now() + grace;
        while app.metrics.ingest_in_flight.get() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = stop_tx.send(true);
        let _ = acceptor.await;
        let close_deadline = Instant::now() + CLOSE_TIMEOUT;
        while connections.in_use() > 0 && Instant::now() < close_deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        ticker.abort();
        if let Some(uploader) = uploader {
            uploader.stop().await;
        }
        buffer.shutdown().await;
        tracing::info!("buffer flushed; bye");
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Arc<App>,
    connections: Arc<Connections>,
    mut stop: watch::Receiver<bool>,
) {
    while let Some((slot, stream)) = connections.accept(&listener, &mut stop).await {
        let (app, tls, stop) = (app.clone(), tls.clone(), stop.clone());
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, app, stop, &slot).await,
                Some(acceptor) => match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => serve_connection(stream, app, stop, &slot).await,
                    Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                },
            }
        });
    }
}

async fn serve_connection<S>(stream: S, app: Arc<App>, stop: watch::Receiver<bool>, slot: &Slot)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = slot.activity();
    let service = service_fn(move |request| {
        let (app, busy) = (app.clone(), activity.request());
        async move {
            let response = route(&app, request).await;
            drop(busy);
            Ok::<_, Infallible>(response)
        }
    });
    // The read buffer is bounded (hyper's default grows to ~400 KB on large bodies), which with 64 connections
    // streaming snapshots would be memory held for nothing: bodies are read in chunks anyway.
    let limits = ConnectionLimits { header_timeout: HEADER_TIMEOUT, max_buf_size: 64 * 1024 };
    traceflow_http::serve::serve_connection(stream, service, limits, stop, Some(slot.evicted())).await;
}

async fn route(app: &App, request: Request<Incoming>) -> Response<Body> {
    match (request.method(), request.uri().path()) {
        (&Method::POST, "/v1/batch") => ingest(app, request).await,
        (&Method::OPTIONS, "/v1/batch") => preflight(app, &request),
        (_, "/v1/batch") => {
            let mut response = error_response(&IngestError::MethodNotAllowed);
            response.headers_mut().insert(ALLOW, HeaderValue::from_static("POST, OPTIONS"));
            response
        }
        (&Method::GET, "/v1/config") => sdk_config(app, request),
        (&Method::OPTIONS, "/v1/config") => preflight(app, &request),
        (&Method::GET | &Method::HEAD, path) if path.starts_with("/sdk/") => crate::sdk::asset(path, request.headers()),
        (&Method::GET, "/healthz") => json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" })),
        (&Method::GET, "/readyz") => readiness(app),
        (&Method::GET, "/metrics") => {
            let mut response = Response::new(Full::new(Bytes::from(app.metrics.encode())));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            );
            response
        }
        _ => {
            // With CORS headers, so that a browser client sees the 404 (and not only "Failed to fetch").
            let cors = app.ingest.cors.check(request.headers());
            let mut response = error_response(&IngestError::NotFound);
            app.ingest.cors.apply(&cors, response.headers_mut());
            app.metrics.requests.get_or_create(&crate::metrics::StatusLabel { status: 404 }).inc();
            response
        }
    }
}

async fn ingest(app: &App, request: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let in_flight = InFlight::enter(&app.metrics.ingest_in_flight);
    let cors = app.ingest.cors.check(request.headers());
    let result = match cors {
        CorsDecision::Denied => {
            app.ingest.discard(request).await;
            Err(IngestError::OriginNotAllowed)
        }
        _ => app.ingest.handle(request).await,
    };
    drop(in_flight);
    let mut response = match &result {
        Ok(accepted) => {
            let stored = accepted.events > 0 || accepted.filtered == 0;
            if stored {
                app.metrics
                    .outcome(if accepted.duplicate { Outcome::Duplicate } else { Outcome::Accepted }, accepted.events);
            }
            if accepted.filtered > 0 {
                if stored {
                    app.metrics
                        .events
                        .get_or_create(&crate::metrics::OutcomeLabel { outcome: Outcome::Filtered })
                        .inc_by(accepted.filtered as u64);
                } else {
                    app.metrics.outcome(Outcome::Filtered, accepted.filtered);
                }
            }
            let mut body = serde_json::json!({ "accepted": accepted.events });
            if accepted.duplicate {
                body["duplicate"] = true.into();
            }
            if accepted.filtered > 0 {
                body["filtered"] = accepted.filtered.into();
            }
            if accepted.dropped_values > 0 {
                body["dropped_values"] = accepted.dropped_values.into();
            }
            json_response(StatusCode::ACCEPTED, &body)
        }
        Err(error) => {
            app.metrics.outcome(error.outcome(), 0);
            error_response(error)
        }
    };
    app.ingest.cors.apply(&cors, response.headers_mut());
    let status = response.status().as_u16();
    app.metrics.requests.get_or_create(&crate::metrics::StatusLabel { status }).inc();
    app.metrics.request_seconds.observe(started.elapsed().as_secs_f64());
    let code = result.as_ref().err().map_or("accepted", IngestError::code);
    tracing::debug!(status, code, micros = started.elapsed().as_micros() as u64, "batch");
    response
}

fn sdk_config(app: &App, request: Request<Incoming>) -> Response<Body> {
    let cors = app.ingest.cors.check(request.headers());
    let (head, _) = request.into_parts();
    let mut response = match (&cors, app.ingest.sdk_config(&head)) {
        (CorsDecision::Denied, _) => error_response(&IngestError::OriginNotAllowed),
        (_, Ok(config)) => {
            let mut response = json_response(StatusCode::OK, &config);
            response.headers_mut().insert("cache-control", HeaderValue::from_static("no-cache"));
            response
        }
        (_, Err(error)) => error_response(&error),
    };
    app.ingest.cors.apply(&cors, response.headers_mut());
    response
}

fn preflight(app: &App, request: &Request<Incoming>) -> Response<Body> {
    let decision = app.ingest.cors.check(request.headers());
    let mut response = match decision {
        CorsDecision::Denied => error_response(&IngestError::OriginNotAllowed),
        _ => {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::NO_CONTENT;
            app.ingest.cors.apply_preflight(response.headers_mut());
            response
        }
    };
    app.ingest.cors.apply(&decision, response.headers_mut());
    let status = response.status().as_u16();
    app.metrics.requests.get_or_create(&crate::metrics::StatusLabel { status }).inc();
    response
}

fn readiness(app: &App) -> Response<Body> {
    let buffer = app.ingest.buffer();
    let mut problems = Vec::new();
    if app.ingest.is_shutting_down() {
        problems.push("shutting_down");
    }
    if !buffer.is_writable() {
        problems.push("buffer_not_writable");
    }
    if buffer.is_full() {
        problems.push("buffer_full");
    }
    if buffer.is_disk_low() {
        problems.push("disk_full");
    }
    let active = app.ingest.policies().active();
    if active.projects.is_empty() {
        problems.push("no_project_keys");
    }
    let policy = serde_json::json!({ "revision": active.revision, "hash": active.hash });
    if problems.is_empty() {
        json_response(StatusCode::OK, &serde_json::json!({ "status": "ready", "policy": policy }))
    } else {
        json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({ "status": "not_ready", "problems": problems, "policy": policy }),
        )
    }
}

fn error_response(error: &IngestError) -> Response<Body> {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = json_response(status, &error.body());
    if let Some(seconds) = error.retry_after() {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn tls_acceptor(config: &TlsConfig) -> Result<TlsAcceptor, ServerError> {
    let tls_error = |what: &str, e: &dyn std::fmt::Display| ServerError::Tls(format!("{what}: {e}"));
    let cert_pem = std::fs::read(&config.cert).map_err(|e| tls_error(&config.cert.display().to_string(), &e))?;
    let key_pem = std::fs::read(&config.key).map_err(|e| tls_error(&config.key.display().to_string(), &e))?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error("certificate", &e))?;
    if certs.is_empty() {
        return Err(ServerError::Tls(format!("no certificate in {}", config.cert.display())));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            ServerError::Tls(format!("no private key in {}", config.key.display()))
        }
        other => tls_error("private key", &other),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("protocol versions", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| tls_error("certificate and key", &e))?;
    Ok(TlsAcceptor::from(Arc::new(server_config)))
}

pub use traceflow_http::serve::shutdown_signal;
