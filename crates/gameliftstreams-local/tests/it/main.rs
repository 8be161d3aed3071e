//! Integration tests: the real server binary on port 0, driven by `aws-sdk-gameliftstreams`.
#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

mod common;
mod errors;
mod games;
mod layering;
mod lifecycle;
mod operations;
mod paginate;
mod pagination;
mod streams;
mod strict;
mod webrtc;
