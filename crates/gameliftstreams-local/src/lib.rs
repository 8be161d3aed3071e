//! gameliftstreams-local: a local, wire-compatible Amazon GameLift Streams control plane.
//!
//! Layout, each layer using only the ones above it:
//! - `gls_model` (crate): the API's shapes and constraints, generated from the service model;
//! - `domain`: ids and ARNs, errors, catalogue, state transitions, pagination cursor;
//! - `clock`: the service clock (wall time plus a persisted offset);
//! - `store`: SQLite persistence, listing indexes, durable timers;
//! - `ops`: one function per operation, and the timer engine;
//! - `server`: HTTP (restJson1 and the `/_local/` admin API) and the scheduler task;
//! - `seed`: bulk data for benchmarks and demos;
//! - `cli`: client commands over the official SDK and `gameliftstreams-paginate`.

pub mod cli;
pub mod clock;
pub mod domain;
pub mod ops;
pub mod seed;
pub mod server;
pub mod store;
