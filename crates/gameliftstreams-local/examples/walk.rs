//! The paginator benchmark: a full walk of an account's sessions through
//! `gameliftstreams-paginate` (ListStreamSessionsByAccount, one page after another, as a user's
//! code walks them), in items per second.
//!
//! Usage: walk <url> [page-size]   (prints `items N seconds S items_per_second R`)
#![allow(clippy::unwrap_used)] // a benchmark tool fails loudly

mod support;

use gameliftstreams_paginate::{list_stream_sessions_by_account, PaginationConfig};
use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: walk <url> [page-size]");
    let page_size = args.next().map(|s| s.parse().unwrap()).unwrap_or(100);
    let client = support::client(&url);
    let config = PaginationConfig {
        page_size: Some(page_size),
        ..Default::default()
    };
    let mut pages = list_stream_sessions_by_account(&client).paginate(config);
    let started = Instant::now();
    let mut items = 0usize;
    while let Some(page) = pages.next_page().await {
        items += page.unwrap().items.len();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "items {items} seconds {secs:.2} items_per_second {:.0}",
        items as f64 / secs
    );
}
