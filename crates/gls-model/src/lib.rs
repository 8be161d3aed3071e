//! The GameLift Streams API as data: every shape, constraint, route and error of the pinned
//! service model (generated), plus the generic constraint checker. No I/O, no clock.

#[rustfmt::skip]
mod generated;
pub mod schema;
mod timestamp;
pub mod validate;

pub use generated::*;
pub use timestamp::Timestamp;
