//! The one error type of the API layer: a modeled error code plus its message. Anything that
//! is not deliberately mapped to a client error becomes an InternalServerException.

use gls_model::ErrorCode;
use std::fmt;

/// An error answered to the client as a modeled AWS error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The modeled error shape.
    pub code: ErrorCode,
    /// The human-readable message.
    pub message: String,
}

impl ApiError {
    /// Build an error of any code.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
    /// 400 ValidationException.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationException, message)
    }
    /// 404 ResourceNotFoundException.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceNotFoundException, message)
    }
    /// 409 ConflictException.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ConflictException, message)
    }
    /// 500 InternalServerException. The detail is logged, never sent.
    pub fn internal(detail: impl fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(
            ErrorCode::InternalServerException,
            "An internal error occurred. Try again.",
        )
    }
    /// The HTTP status of this error.
    pub fn status(&self) -> u16 {
        self.code.http_status()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}
