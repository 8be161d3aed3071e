//! What the engine tells the layer that runs applications (`host`, which implements
//! [`Apps`]): a session was placed, so its game may start. The hint is given inside the
//! transaction that placed the session; the host acts on it only once it reads the session
//! placed (a rolled-back placement starts nothing), and stops a game when it reads its session
//! ended.

/// The layer that runs each placed session's application.
pub trait Apps: Send + Sync {
    /// `session` was placed (it is ACTIVE once this transaction commits).
    fn placed(&self, session: &str);
    /// Why a session of `runtime` cannot run its game on this host (it streams the test card
    /// instead), if it cannot.
    fn why_not(&self, runtime: gls_model::RuntimeEnvironmentType) -> Option<String>;
}
