//! Market data on the hot path: decimal prices as fixed-point integers, the fixed-size delta
//! record the log carries, and per-instrument L2 order books applied from committed deltas.
//! Pure Rust (no napi): the binding in the root crate calls it once per committed batch.
#![deny(clippy::all)]

mod bars;
mod book;
mod books;
mod error;
mod keep;
mod price;
mod record;
mod render;
mod replay;

pub use bars::{Bar, BarSource, Bars, BarsEnd};
pub use book::{Book, Level, Side};
pub use books::Books;
pub use error::{MarketError, Result};
pub use keep::{keep, GapFound, KeepInput, Kept, ProducerMark, Venues, RECORDS_PER_BATCH_MAX};
pub use price::{format_price, parse_price, PRICE_SCALE};
pub use record::{
    Action, Delta, DELTA_BYTES, F_LAST, F_MAYBE_BAD_BOOK, F_SNAPSHOT, KIND_DELTA, KIND_QUOTE,
    KIND_TRADE,
};
pub use render::{write_event_json, write_price};
pub use replay::{Format, Replay, ReplayOptions, Step, FRAME_BOOK, FRAME_DONE, FRAME_EVENT};
