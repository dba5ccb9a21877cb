//! Engine errors, each with a stable code the binding passes to JavaScript unchanged.

use std::fmt;

#[derive(Debug, Clone)]
pub enum EngineError {
    /// RocksDB reported an I/O or internal error.
    Io(String),
    /// RocksDB found corrupt data.
    Corrupt(String),
    /// A malformed packed batch or request.
    InvalidArgument(String),
    /// `apply` called with an applied index that does not move forward.
    ApplyOrder { current: u64, requested: u64 },
}

impl EngineError {
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Io(_) => "ENGINE_IO",
            EngineError::Corrupt(_) => "ENGINE_CORRUPT",
            EngineError::InvalidArgument(_) => "ENGINE_INVALID_ARGUMENT",
            EngineError::ApplyOrder { .. } => "ENGINE_APPLY_ORDER",
        }
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Io(m) | EngineError::Corrupt(m) | EngineError::InvalidArgument(m) => {
                f.write_str(m)
            }
            EngineError::ApplyOrder { current, requested } => {
                write!(
                    f,
                    "apply at index {requested} does not follow the applied index {current}"
                )
            }
        }
    }
}

impl std::error::Error for EngineError {}

impl From<rocksdb::Error> for EngineError {
    fn from(err: rocksdb::Error) -> Self {
        match err.kind() {
            rocksdb::ErrorKind::Corruption => EngineError::Corrupt(err.to_string()),
            _ => EngineError::Io(err.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;
