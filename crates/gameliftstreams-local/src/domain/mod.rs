//! The rules of the service, free of HTTP, SQL and I/O: identifiers and ARNs, the error type,
//! the catalogue of locations, classes and runtimes, the rules of application builds, resource state transitions (the session
//! state machine, timer kinds), location and association rules, tag and request rules, the
//! list views, and the pagination cursor.

pub mod associations;
pub mod builds;
pub mod capacity;
pub mod catalog;
pub mod cursor;
pub mod error;
pub mod ids;
pub mod lifecycle;
pub mod locations;
pub mod requests;
pub mod session;
pub mod signal;
pub mod tags;
pub mod timer;
pub mod views;

pub use error::ApiError;
