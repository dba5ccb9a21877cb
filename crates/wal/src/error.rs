//! WAL errors. Each variant maps to one stable code that the binding hands to JavaScript
//! unchanged (`WalError::code`).

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub enum WalError {
    /// A record before the tail failed verification: never silently truncated.
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// An fdatasync (or the write linked to it) failed. The log is poisoned: no further appends.
    FsyncFailed { message: String },
    /// The log was poisoned by an earlier fatal error.
    Fatal { message: String },
    /// An append would leave a hole or reach below the compacted prefix.
    Gap { message: String },
    /// A named limit was exceeded (record bytes, group bytes, segment bytes).
    Limit { message: String },
    /// Malformed argument (bad packed batch, index zero, ...).
    InvalidArgument { message: String },
    /// Any other I/O failure (open, read, rename, ...).
    Io { message: String },
    /// The log was closed.
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

impl fmt::Display for WalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalError::Corrupt {
                file,
                offset,
                reason,
            } => {
                write!(
                    f,
                    "corrupt WAL record in {} at offset {offset}: {reason}",
                    file.display()
                )
            }
            WalError::FsyncFailed { message } => write!(f, "fdatasync failed: {message}"),
            WalError::Fatal { message } => write!(f, "WAL stopped after a fatal error: {message}"),
            WalError::Gap { message }
            | WalError::Limit { message }
            | WalError::InvalidArgument { message }
            | WalError::Io { message } => f.write_str(message),
            WalError::Closed => f.write_str("WAL is closed"),
        }
    }
}

impl std::error::Error for WalError {}

pub type Result<T> = std::result::Result<T, WalError>;
