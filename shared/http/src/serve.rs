//! Serving plumbing both servers (runner ingest, control plane) share: bounded accepting that stops on request,
//! HTTP/1.1 connections with a header timeout that finish their exchange and close when asked, the shutdown signal,
//! and their JSON answers.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// Waits for a connection slot, then for a connection; `None` once `stop` changes or the slots are closed.
/// Accept errors (out of file descriptors and the like) back off for 50 ms instead of spinning.
pub async fn accept(
    listener: &TcpListener,
    connections: &Arc<Semaphore>,
    stop: &mut watch::Receiver<bool>,
) -> Option<(OwnedSemaphorePermit, TcpStream)> {
    let permit = tokio::select! {
        _ = stop.changed() => return None,
        permit = connections.clone().acquire_owned() => permit.ok()?,
    };
    loop {
        tokio::select! {
            _ = stop.changed() => return None,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    return Some((permit, stream));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// How a connection is served.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Longest a client may take to send a request head; then the connection is closed.
    pub header_timeout: Duration,
    /// Bound on the connection's read buffer (bodies are read in chunks anyway).
    pub max_buf_size: usize,
}

/// Serves HTTP/1.1 on `stream` with `service` until the client closes it, or, once `stop` turns true, until the
/// exchange in progress is answered (graceful shutdown).
pub async fn serve_connection<S, T>(stream: S, service: T, limits: ConnectionLimits, mut stop: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: Service<Request<Incoming>, Response = Response<Full<Bytes>>> + Send + 'static,
    T::Future: Send + 'static,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_buf_size)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = async { stop.wait_for(|stop| *stop).await.map(|_| ()) } => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Resolves on SIGTERM or SIGINT. Install it before announcing the listener, so an early signal still counts.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// A JSON answer with its status.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
