//! The rules of the service, free of HTTP and SQL: identifiers and ARNs, the error type,
//! the catalogue of locations, classes and runtimes, resource state transitions, and the
//! pagination cursor.

pub mod capacity;
pub mod catalog;
pub mod cursor;
pub mod error;
pub mod ids;
pub mod lifecycle;
pub mod session;

pub use error::ApiError;
