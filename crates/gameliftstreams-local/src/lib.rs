//! gameliftstreams-local: a local, wire-compatible Amazon GameLift Streams control plane.
//!
//! Layout, each layer using only the ones above it (`tests/it/layering.rs` checks this):
//! - `gls_model` (crate): the API's shapes and constraints, generated from the service model;
//! - `clock`: the service clock (system or frozen), the one reader of the wall clock;
//! - `domain`: ids and ARNs, errors, catalogue, the session state machine, timer kinds,
//!   location, association, tag and request rules, list views, the pagination cursor;
//! - `store`: the `Store` trait and one typed table trait per kind of record, with the
//!   SQLite backend (the only place that knows SQL);
//! - `ops`: the `Service`, its dispatcher, `engine` (what happens over time and across
//!   resources) and `api` (one module per resource, which never use each other);
//! - `stream`: real streams: a WebRTC peer per session (str0m), the H.264 test card, the
//!   protocol script, the connection driving the session (implements `ops`' `Streams`);
//! - `server`: HTTP (restJson1 and the `/_local/` admin API), SigV4, the throttle and the
//!   scheduler task;
//! - `seed`: bulk data for benchmarks and demos;
//! - `cli`: client commands over the official SDK and `gameliftstreams-paginate`.

pub mod cli;
pub mod clock;
pub mod domain;
pub mod host;
pub mod media;
pub mod ops;
pub mod seed;
pub mod server;
pub mod store;
pub mod stream;
