//! Engine errors, each with a stable code the binding passes to JavaScript unchanged.

#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// RocksDB reported an I/O or internal error.
    #[error("{0}")]
    Io(String),
    /// RocksDB found corrupt data.
    #[error("{0}")]
    Corrupt(String),
    /// A malformed packed batch or request.
    #[error("{0}")]
    InvalidArgument(String),
    /// `apply` called with an applied index that does not move forward.
    #[error("apply at index {requested} does not follow the applied index {current}")]
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

impl From<rocksdb::Error> for EngineError {
    fn from(err: rocksdb::Error) -> Self {
        match err.kind() {
            rocksdb::ErrorKind::Corruption => EngineError::Corrupt(err.to_string()),
            _ => EngineError::Io(err.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;
