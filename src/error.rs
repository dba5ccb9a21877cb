use napi::{Error, Status};

/// An error whose message carries its stable code, e.g. `[WAL_GAP] append at index 9 ...`.
pub fn coded(code: &str, message: impl std::fmt::Display) -> Error {
    Error::new(Status::GenericFailure, format!("[{code}] {message}"))
}

pub fn from_wal(err: wal_crate::WalError) -> Error {
    coded(err.code(), err)
}

pub fn from_engine(err: engine_crate::EngineError) -> Error {
    coded(err.code(), err)
}

/// JS numbers carry indexes; negative or fractional values are argument errors.
pub fn index_arg(name: &str, value: i64) -> napi::Result<u64> {
    u64::try_from(value).map_err(|_| {
        coded(
            "INVALID_ARGUMENT",
            format!("{name} must be a non-negative integer, got {value}"),
        )
    })
}
