//! Serving plumbing both servers (runner ingest, control plane) share: bounded accepting that stops on request,
//! HTTP/1.1 connections with a header timeout that finish their exchange and close when asked, the shutdown signal,
//! and their JSON answers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// The open connections of a listener, bounded: at the limit, the connection idle the longest is asked to close
/// so that a new client is answered at once instead of waiting behind idle keep-alive sockets (as nginx does).
pub struct Connections {
    slots: Arc<Semaphore>,
    max: usize,
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    next: AtomicU64,
}

/// One connection's activity: its requests in progress, when it last went idle, and its close signal.
pub struct Activity {
    busy: AtomicUsize,
    idle_since: Mutex<Instant>,
    evict: watch::Sender<bool>,
}

/// A connection's place among the open ones; freed when dropped.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    id: u64,
    activity: Arc<Activity>,
    connections: Arc<Connections>,
}

/// Counts one request in progress on its connection while it lives.
pub struct Busy(Arc<Activity>);

impl Connections {
    pub fn new(max: usize) -> Arc<Connections> {
        Arc::new(Connections {
            slots: Arc::new(Semaphore::new(max)),
            max,
            open: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        })
    }

    /// Connections open now.
    pub fn in_use(&self) -> usize {
        self.max - self.slots.available_permits()
    }

    /// Waits for a connection, then gives it a slot; at the limit, the longest-idle connection is asked to close
    /// first. `None` once `stop` changes. Accept errors (out of file descriptors and the like) back off 50 ms.
    pub async fn accept(
        self: &Arc<Self>,
        listener: &TcpListener,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<(Slot, TcpStream)> {
        let stream = loop {
            tokio::select! {
                _ = stop.changed() => return None,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => break stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        };
        let _ = stream.set_nodelay(true);
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                self.evict_longest_idle();
                tokio::select! {
                    _ = stop.changed() => return None,
                    permit = self.slots.clone().acquire_owned() => permit.ok()?,
                }
            }
        };
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity {
            busy: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            evict: watch::channel(false).0,
        });
        self.open.lock().unwrap_or_else(|e| e.into_inner()).insert(id, activity.clone());
        Some((Slot { _permit: permit, id, activity, connections: self.clone() }, stream))
    }

    /// Asks the connection idle the longest (no request in progress) to close; none when all are busy.
    fn evict_longest_idle(&self) {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let idle = open
            .values()
            .filter(|a| a.busy.load(Ordering::SeqCst) == 0 && !*a.evict.borrow())
            .min_by_key(|a| *a.idle_since.lock().unwrap_or_else(|e| e.into_inner()));
        if let Some(activity) = idle {
            let _ = activity.evict.send(true);
        }
    }
}

impl Slot {
    pub fn activity(&self) -> Arc<Activity> {
        self.activity.clone()
    }

    /// Turns true when the connection is asked to close for a new one.
    pub fn evicted(&self) -> watch::Receiver<bool> {
        self.activity.evict.subscribe()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.connections.open.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

impl Activity {
    /// A request starts; it ends when the returned guard is dropped.
    pub fn request(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.idle_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
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
pub async fn serve_connection<S, T>(
    stream: S,
    service: T,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
    evicted: Option<watch::Receiver<bool>>,
) where
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
    let evicted = async {
        match evicted {
            Some(mut evicted) => evicted.wait_for(|evicted| *evicted).await.map(|_| ()),
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = async { stop.wait_for(|stop| *stop).await.map(|_| ()) } => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
        _ = evicted => {
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
