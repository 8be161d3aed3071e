//! Latency of ListStreamSessionsByAccount pages through the official SDK, against a running
//! server (see tools/bench-list.sh, which seeds 1k and 1M sessions and runs this on each).
//!
//! Usage: list_bench <endpoint-url> [requests-per-case]

mod support;

use aws_sdk_gameliftstreams::types::{ExportFilesStatus, StreamSessionStatus};
use std::time::{Duration, Instant};
use support::client;

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1000.0;
    println!(
        "{name:<44} n={:<5} p50={:>7.3} ms  p90={:>7.3} ms  p99={:>7.3} ms",
        samples.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99)
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).ok_or("usage: list_bench <endpoint-url> [requests]")?;
    let n: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(200);
    let c = client(url);

    // A token deep into the listing: the middle of the account's sessions.
    let total = {
        let mut count = 0usize;
        let mut token: Option<String> = None;
        let mut deep: Option<String> = None;
        loop {
            let page = c
                .list_stream_sessions_by_account()
                .max_results(100)
                .set_next_token(token.clone())
                .send()
                .await?;
            count += page.items().len();
            token = page.next_token().map(str::to_string);
            if deep.is_none() && count >= 500 {
                deep = token.clone();
            }
            if token.is_none() || count >= 5_000 {
                break;
            }
        }
        (count, deep)
    };
    println!("walked {} sessions to find a deep token", total.0);

    type Case = (
        &'static str,
        Option<StreamSessionStatus>,
        Option<ExportFilesStatus>,
        i32,
        bool,
    );
    let cases: [Case; 6] = [
        ("first page, 25 items", None, None, 25, false),
        ("first page, 100 items", None, None, 100, false),
        ("page after 500 items, 100 items", None, None, 100, true),
        (
            "Status=CONNECTED, 100 items",
            Some(StreamSessionStatus::Connected),
            None,
            100,
            false,
        ),
        (
            "Status=RECONNECTING (1%), 100 items",
            Some(StreamSessionStatus::Reconnecting),
            None,
            100,
            false,
        ),
        (
            "Status=TERMINATED & Export=FAILED, 100",
            Some(StreamSessionStatus::Terminated),
            Some(ExportFilesStatus::Failed),
            100,
            false,
        ),
    ];
    for (name, status, export, max, deep) in cases {
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let page = c
                .list_stream_sessions_by_account()
                .set_status(status.clone())
                .set_export_files_status(export.clone())
                .max_results(max)
                .set_next_token(if deep { total.1.clone() } else { None })
                .send()
                .await?;
            samples.push(t.elapsed());
            std::hint::black_box(page);
        }
        report(name, samples);
    }
    Ok(())
}
