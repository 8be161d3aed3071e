//! Connections: the accept loop over hyper's HTTP/1 server with a header-read timeout (which
//! also ends idle keep-alive connections), a bound on open connections with a clear refusal,
//! and the graceful stop: stop accepting, let the requests in flight finish (within the drain
//! time), flush their answers, drop the connections that are idle or stuck half-way through a
//! request line.

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tower::ServiceExt;

/// How long connections and requests may take (`serve` flags).
#[derive(Debug, Clone)]
pub struct Limits {
    /// From the start of a request (or the end of the previous one on a kept-alive
    /// connection) to the end of its headers.
    pub header_read: Duration,
    /// To read a request's body once its headers are in.
    pub body_read: Duration,
    /// Open connections at once; more are answered 503 and closed.
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

/// Requests being handled, and a wake-up when that falls to zero.
#[derive(Default)]
struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

struct Handling(Arc<InFlight>);

impl Handling {
    fn new(f: &Arc<InFlight>) -> Handling {
        f.count.fetch_add(1, Ordering::SeqCst);
        Handling(f.clone())
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// The answer to a connection over the bound, in the AWS error shape.
const REFUSAL: &str =
    "{\"message\":\"Too many open connections; retry later.\",\"Message\":\"Too many open connections; retry later.\"}";

async fn refuse(mut stream: TcpStream) {
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

/// Serve `router` on `listener` until `stop` resolves; then stop gracefully.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, stop: impl Future<Output = ()>) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        // Room for the request guard to answer too-large headers in the AWS shape itself.
        .max_buf_size(1 << 20)
        .max_headers(1000);
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let in_flight = Arc::new(InFlight::default());
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
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let router = router.clone();
        let flight = in_flight.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let handling = Handling::new(&flight);
            let router = router.clone();
            async move {
                let response = router.oneshot(request.map(axum::body::Body::new)).await;
                drop(handling);
                response
            }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    // Tell every connection to finish the request it is on and close (no more keep-alive);
    // idle ones close at once.
    let closed = graceful.shutdown();
    tokio::pin!(closed);
    // Requests in flight finish; connections waiting for a request do not count.
    let drained = async {
        loop {
            let idle = in_flight.idle.notified();
            if in_flight.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    };
    tokio::select! {
        () = &mut closed => return,
        () = drained => {}
        () = tokio::time::sleep(limits.drain) => tracing::warn!(
            requests = in_flight.count.load(Ordering::SeqCst),
            "requests still running after the drain time; stopping anyway"
        ),
    }
    // Flush the last answers; a connection stuck mid-request is dropped with the process.
    let _ = tokio::time::timeout(Duration::from_millis(500), closed).await;
}
