//! Time bars for `ts/market/bars.ts`: one fold per request, fed an instrument's stored blocks
//! in seq order. Times cross as decimal strings (exact), blocks as packed buffers.

use market_crate::{BarSource, Bars, BarsEnd};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::coded;
use crate::market::from_market;
use crate::replay::u64_arg;

#[napi(object)]
pub struct BarsConfig {
    /// `trades` or `mid`.
    pub source: String,
    pub from_ts: String,
    /// Exclusive.
    pub to_ts: String,
    pub interval_ns: String,
    pub bars_max: u32,
}

#[napi]
pub struct NativeBars {
    bars: Bars,
}

#[napi]
impl NativeBars {
    #[napi(constructor)]
    pub fn new(config: BarsConfig) -> Result<NativeBars> {
        let source = match config.source.as_str() {
            "trades" => BarSource::Trades,
            "mid" => BarSource::Mid,
            other => {
                return Err(coded(
                    "INVALID_ARGUMENT",
                    format!("source is trades or mid, got {other:?}"),
                ))
            }
        };
        let bars = Bars::new(
            source,
            u64_arg("fromTs", &config.from_ts)?,
            u64_arg("toTs", &config.to_ts)?,
            u64_arg("intervalNs", &config.interval_ns)?,
            config.bars_max as usize,
        )
        .map_err(from_market)?;
        Ok(NativeBars { bars })
    }

    /// Folds a block of stored records; true once no later record can change the answer.
    #[napi]
    pub fn push(&mut self, packed: &[u8]) -> Result<bool> {
        let end = self.bars.push(packed).map_err(from_market)?;
        Ok(end != BarsEnd::Open)
    }

    /// The start (ns) of the first bar past a full answer; none when the answer is complete.
    #[napi(getter)]
    pub fn next_ts(&self) -> Option<String> {
        match self.bars.end() {
            BarsEnd::Full { next_ns } => Some(next_ns.to_string()),
            _ => None,
        }
    }

    /// The bars as a JSON array.
    #[napi]
    pub fn render_json(&self) -> Buffer {
        self.bars.render_json().into()
    }
}
