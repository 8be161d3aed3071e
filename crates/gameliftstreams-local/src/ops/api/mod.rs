//! One module per resource of the API: each handler takes the caller's [`Ctx`](super::Ctx),
//! the open transaction and the typed input, and returns the typed output or a modeled error.
//! An api module uses the engine, the store and the domain, never another api module.

pub mod admin;
pub mod applications;
pub mod groups;
pub mod locations;
pub mod sessions;
pub mod shell;
pub mod tags;
pub mod urls;
