//! Market errors, each with a stable code the binding hands to JavaScript unchanged.

#[derive(Debug, Clone, thiserror::Error)]
pub enum MarketError {
    /// A malformed price, record or batch.
    #[error("{0}")]
    Invalid(String),
    /// A named limit was reached (levels per side, instruments).
    #[error("{0}")]
    Limit(String),
    /// A stored book could not be decoded.
    #[error("{0}")]
    Corrupt(String),
}

impl MarketError {
    pub fn code(&self) -> &'static str {
        match self {
            MarketError::Invalid(_) => "MD_INVALID",
            MarketError::Limit(_) => "MD_LIMIT",
            MarketError::Corrupt(_) => "MD_CORRUPT",
        }
    }
}

pub type Result<T> = std::result::Result<T, MarketError>;
