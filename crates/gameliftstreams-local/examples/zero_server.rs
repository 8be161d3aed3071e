//! The benchmarks' reference: a zero-work HTTP/1.1 server (hyper, the same stack and
//! connection settings as `serve`) that answers every request with the bytes of one file, as
//! `application/json`. What the machine allows for a response of that size.
//!
//! Usage: zero_server <body-file>   (prints `listening on http://127.0.0.1:PORT`)
#![allow(clippy::unwrap_used)] // a benchmark tool fails loudly

use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;

#[tokio::main]
async fn main() {
    let path = std::env::args().nth(1).expect("usage: zero_server <body-file>");
    let body = Bytes::from(std::fs::read(path).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("listening on http://{}", listener.local_addr().unwrap());
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_req| {
                let body = body.clone();
                async move {
                    Ok::<_, Infallible>(
                        hyper::Response::builder()
                            .header("content-type", "application/json")
                            .header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
                            .body(axum::body::Body::from(body))
                            .unwrap(),
                    )
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
