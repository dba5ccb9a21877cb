//! WAL errors. Each variant maps to one stable code that the binding hands to JavaScript
//! unchanged (`WalError::code`).

use std::path::PathBuf;

#[derive(Debug, Clone, thiserror::Error)]
pub enum WalError {
    /// A record before the tail failed verification: never silently truncated.
    #[error("corrupt WAL record in {} at offset {offset}: {reason}", file.display())]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// An fdatasync (or the write linked to it) failed. The log is poisoned: no further appends.
    #[error("fdatasync failed: {message}")]
    FsyncFailed { message: String },
    /// The log was poisoned by an earlier fatal error.
    #[error("WAL stopped after a fatal error: {message}")]
    Fatal { message: String },
    /// An append would leave a hole or reach below the compacted prefix.
    #[error("{message}")]
    Gap { message: String },
    /// A named limit was exceeded (record bytes, group bytes, segment bytes).
    #[error("{message}")]
    Limit { message: String },
    /// Malformed argument (bad packed batch, index zero, ...).
    #[error("{message}")]
    InvalidArgument { message: String },
    /// Any other I/O failure (open, read, rename, ...).
    #[error("{message}")]
    Io { message: String },
    /// The log was closed.
    #[error("WAL is closed")]
    Closed,
}

impl WalError {
    pub fn code(&self) -> &'static str {
        match self {
            WalError::Corrupt { .. } => "WAL_CORRUPT",
            WalError::FsyncFailed { .. } => "WAL_FSYNC_FAILED",
            WalError::Fatal { .. } => "WAL_FATAL",
            WalError::Gap { .. } => "WAL_GAP",
            WalError::Limit { .. } => "WAL_LIMIT",
            WalError::InvalidArgument { .. } => "WAL_INVALID_ARGUMENT",
            WalError::Io { .. } => "WAL_IO",
            WalError::Closed => "WAL_CLOSED",
        }
    }

    pub(crate) fn io(context: &str, err: std::io::Error) -> WalError {
        WalError::Io {
            message: format!("{context}: {err}"),
        }
    }
}

pub type Result<T> = std::result::Result<T, WalError>;
