//! Integration tests: the real server binary on port 0, driven by `aws-sdk-gameliftstreams`.

mod common;
mod errors;
mod lifecycle;
mod pagination;
