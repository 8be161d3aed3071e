//! Connections: the accept loop over hyper's HTTP/1 server with a header-read timeout (which
//! also ends idle keep-alive connections), a bound on open connections, and the graceful stop:
//! stop accepting, let the requests in flight finish (within the drain time), flush their
//! answers, drop the connections that are idle or stuck half-way through a request line.
//! At the bound, a new connection takes the place of the one that has waited longest without
//! a request in flight (idle keep-alive, or still sending its headers: hyper's graceful close
//! ends those at once); only when every connection has a request in flight is it refused (503
//! in the AWS shape).

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// How long connections and requests may take (`serve` flags).
#[derive(Debug, Clone)]
pub struct Limits {
    /// From the start of a request (or the end of the previous one on a kept-alive
    /// connection) to the end of its headers.
    pub header_read: Duration,
    /// To read a request's body once its headers are in.
    pub body_read: Duration,
    /// Open connections at once; a new one beyond takes the place of the longest idle, or is
    /// answered 503 and closed when all have a request in flight.
    pub max_connections: usize,
    /// How long a stop waits for the requests in flight.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read: Duration::from_secs(30),
            body_read: Duration::from_secs(30),
            max_connections: 1024,
            drain: Duration::from_secs(10),
        }
    }
}

/// A count (requests being handled, open connections) and a wake-up when it falls to zero.
#[derive(Default)]
struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

impl InFlight {
    /// Count one more, until the guard is dropped.
    fn enter(self: &Arc<Self>) -> Counted {
        self.count.fetch_add(1, Ordering::SeqCst);
        Counted(self.clone())
    }
}

/// One of an [`InFlight`] count: counted down when dropped.
struct Counted(Arc<InFlight>);

impl Drop for Counted {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// One open connection, as the bound sees it.
struct Conn {
    /// Requests it has in flight (0 or 1 for HTTP/1).
    busy: AtomicUsize,
    /// Since when it has had none (milliseconds since the server's start).
    idle_since: AtomicU64,
    evict: Notify,
    /// Once it is chosen to make room: where its place (its permit) goes when it closes, to
    /// the connection it makes room for, which no other can take first.
    handover: Mutex<Option<oneshot::Sender<OwnedSemaphorePermit>>>,
}

/// The open connections, and when the server started (for `Conn::idle_since`).
struct Conns {
    all: Mutex<HashMap<u64, Arc<Conn>>>,
    next: AtomicU64,
    epoch: Instant,
}

impl Conns {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// A new open connection, idle since now: its id and state.
    fn register(&self) -> (u64, Arc<Conn>) {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let conn = Arc::new(Conn {
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.now()),
            evict: Notify::new(),
            handover: Mutex::new(None),
        });
        self.all
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, conn.clone());
        (id, conn)
    }

    /// Close the connection that has waited longest without a request in flight: its place,
    /// when it has closed; `None` if every connection has a request in flight.
    fn evict_one(&self) -> Option<oneshot::Receiver<OwnedSemaphorePermit>> {
        let all = self.all.lock().unwrap_or_else(|p| p.into_inner());
        let oldest = all
            .iter()
            .filter(|(_, c)| {
                c.busy.load(Ordering::SeqCst) == 0 && c.handover.lock().unwrap_or_else(|p| p.into_inner()).is_none()
            })
            .min_by_key(|(id, c)| (c.idle_since.load(Ordering::SeqCst), **id));
        match oldest {
            Some((id, c)) => {
                tracing::debug!(connection = id, "displaced to make room");
                let (tx, rx) = oneshot::channel();
                *c.handover.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
                c.evict.notify_one();
                Some(rx)
            }
            None => None,
        }
    }
}

/// A response body that keeps its request counted until hyper has sent it all (and drops it).
struct Answering {
    body: axum::body::Body,
    _handling: Handling,
}

impl hyper::body::Body for Answering {
    type Data = hyper::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// A request being handled: counted in flight, and its connection busy until it is answered.
struct Handling {
    conn: Arc<Conn>,
    conns: Arc<Conns>,
    /// (Counted down after the connection is idle again: fields drop after `drop`.)
    _in_flight: Counted,
}

impl Handling {
    fn new(f: &Arc<InFlight>, conn: &Arc<Conn>, conns: &Arc<Conns>) -> Handling {
        conn.busy.fetch_add(1, Ordering::SeqCst);
        Handling {
            conn: conn.clone(),
            conns: conns.clone(),
            _in_flight: f.enter(),
        }
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.conn.idle_since.store(self.conns.now(), Ordering::SeqCst);
        self.conn.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The answer to a connection over the bound, in the AWS error shape.
const REFUSAL: &str =
    "{\"message\":\"Too many open connections; retry later.\",\"Message\":\"Too many open connections; retry later.\"}";

/// Answer 503 and close; `_open` counts it among the open connections until then.
async fn refuse(mut stream: TcpStream, _open: Counted) {
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nx-amzn-ErrorType: ServiceUnavailableException\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        REFUSAL.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(REFUSAL.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

/// How long a connection over the bound waits for the one it displaces to close.
const DISPLACE_WAIT: Duration = Duration::from_secs(1);

/// What every connection's task shares.
#[derive(Clone)]
struct Shared {
    http: hyper::server::conn::http1::Builder,
    router: Router,
    in_flight: Arc<InFlight>,
    conns: Arc<Conns>,
    /// Open connections, and a wake-up when that falls to zero.
    open_count: Arc<InFlight>,
    stopping: watch::Receiver<bool>,
}

/// Serve one connection, registered among the open ones (`Conns::register`), until it ends,
/// is displaced or the server stops (then it finishes the request it is on, if any, and
/// closes); `open` counts it among the open connections until then.
async fn serve_one(
    stream: TcpStream,
    permit: OwnedSemaphorePermit,
    s: Shared,
    (id, conn): (u64, Arc<Conn>),
    open: Counted,
) {
    let (router, flight, conns, me) = (s.router.clone(), s.in_flight.clone(), s.conns.clone(), conn.clone());
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let handling = Handling::new(&flight, &me, &conns);
        let router = router.clone();
        async move {
            // (The router's error type is Infallible.)
            let response = router.oneshot(request.map(axum::body::Body::new)).await;
            response.map(|r| {
                r.map(|body| Answering {
                    body,
                    _handling: handling,
                })
            })
        }
    });
    let connection = s.http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut stopping = s.stopping.clone();
    let mut closing = *stopping.borrow();
    if closing {
        connection.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            r = connection.as_mut() => {
                tracing::debug!(connection = id, ended = ?r.err(), "connection ended");
                break;
            }
            // Displaced: with nothing in flight (idle, or its headers still coming) it closes
            // now; else after its answer. (Its requests run only as this task polls it.)
            () = conn.evict.notified(), if !closing => {
                if conn.busy.load(Ordering::SeqCst) == 0 {
                    tracing::debug!(connection = id, "displaced: closed");
                    break;
                }
                tracing::debug!(connection = id, "displaced: closes after its answer");
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = stopping.changed(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
    s.conns.all.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    // Its place goes to the connection it was displaced for (or back to the bound).
    if let Some(to) = conn.handover.lock().unwrap_or_else(|p| p.into_inner()).take() {
        let _ = to.send(permit);
    } else {
        drop(permit);
    }
    drop(open);
}

/// Wait until `f`'s count is zero.
async fn until_zero(f: &InFlight) {
    loop {
        let idle = f.idle.notified();
        if f.count.load(Ordering::SeqCst) == 0 {
            return;
        }
        idle.await;
    }
}

/// Serve `router` on `listener` until `stop` resolves; then stop gracefully.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, stop: impl Future<Output = ()>) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        // Room for the request guard to answer too-large headers in the AWS shape itself.
        .max_buf_size(1 << 20)
        .max_headers(1000);
    let (stop_tx, stopping) = watch::channel(false);
    let shared = Shared {
        http,
        router,
        in_flight: Arc::new(InFlight::default()),
        conns: Arc::new(Conns {
            all: Mutex::default(),
            next: AtomicU64::new(0),
            epoch: Instant::now(),
        }),
        open_count: Arc::new(InFlight::default()),
        stopping,
    };
    let open = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut stop => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let open_one = shared.open_count.enter();
        let s = shared.clone();
        match open.clone().try_acquire_owned() {
            Ok(permit) => {
                // Counted before its task runs: the next connection may need to displace it.
                let conn = shared.conns.register();
                tokio::spawn(serve_one(stream, permit, s, conn, open_one));
            }
            // At the bound: the longest idle connection makes room, if one is idle.
            Err(_) => match shared.conns.evict_one() {
                Some(place) => {
                    tokio::spawn(async move {
                        match tokio::time::timeout(DISPLACE_WAIT, place).await {
                            Ok(Ok(permit)) => {
                                let conn = s.conns.register();
                                serve_one(stream, permit, s, conn, open_one).await
                            }
                            _ => refuse(stream, open_one).await,
                        }
                    });
                }
                None => {
                    tokio::spawn(refuse(stream, open_one));
                }
            },
        }
    }
    drop(listener);
    // Tell every connection to finish the request it is on and close (no more keep-alive);
    // idle ones close at once.
    let _ = stop_tx.send(true);
    let closed = until_zero(&shared.open_count);
    tokio::pin!(closed);
    // Requests in flight finish; connections waiting for a request do not count.
    tokio::select! {
        () = &mut closed => return,
        () = until_zero(&shared.in_flight) => {}
        () = tokio::time::sleep(limits.drain) => tracing::warn!(
            requests = shared.in_flight.count.load(Ordering::SeqCst),
            "requests still running after the drain time; stopping anyway"
        ),
    }
    // Flush the last answers; a connection stuck mid-request is dropped with the process.
    let _ = tokio::time::timeout(Duration::from_millis(500), closed).await;
}
