//! Sub-millisecond wake-ups for paced replay (`ts/market/replay.ts`). Node's timers fire on whole
//! milliseconds (libuv polls with a millisecond timeout), so a schedule kept by them alone is
//! late by up to a millisecond and more. One thread here sleeps to each deadline (the kernel
//! wakes it within its timer slack, tens of microseconds) and resolves the waiting promise: the
//! threadsafe call that settles it wakes the event loop at once.
//!
//! Only short waits come here (`PACER_WAIT_NS_MAX`): a pending wait keeps the event loop alive,
//! and longer ones are the JS timers' job up to their last stretch. The pending waits are
//! bounded (`PACER_WAITS_MAX`, all sessions together); past it a wait is refused and the caller
//! falls back to a timer.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use napi::bindgen_prelude::*;
use napi::JsDeferred;
use napi_derive::napi;

use crate::error::coded;

/// Waits pending at once, every session together (a paced session has at most one).
pub const PACER_WAITS_MAX: usize = 4096;
/// The longest wait taken here, in ns.
pub const PACER_WAIT_NS_MAX: f64 = 20e6;

type Resolver = fn(Env) -> Result<()>;
type Wake = JsDeferred<(), Resolver>;

static PENDING: AtomicUsize = AtomicUsize::new(0);
static PACER: OnceLock<Sender<(Instant, Wake)>> = OnceLock::new();

fn resolved(_env: Env) -> Result<()> {
    Ok(())
}

/// The timer thread: waits are kept by deadline (then arrival), each resolved once it is due.
fn run(waits_rx: Receiver<(Instant, Wake)>) {
    let mut waits: BTreeMap<(Instant, u64), Wake> = BTreeMap::new();
    let mut arrivals = 0u64;
    loop {
        let next = match waits.first_key_value() {
            None => waits_rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some((&(at, _), _)) => {
                waits_rx.recv_timeout(at.saturating_duration_since(Instant::now()))
            }
        };
        match next {
            Ok((at, wake)) => {
                arrivals += 1;
                waits.insert((at, arrivals), wake);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        while let Some(entry) = waits.first_entry() {
            if entry.key().0 > now {
                break;
            }
            entry.remove().resolve(resolved as Resolver);
            PENDING.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn pacer() -> &'static Sender<(Instant, Wake)> {
    PACER.get_or_init(|| {
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("quorumkv-pacer".into())
            .spawn(move || run(rx))
            .expect("the pacer thread starts");
        tx
    })
}

/// A promise resolved `wait_ns` from now (at most `PACER_WAIT_NS_MAX`), to within the kernel's
/// timer slack. Refused with `PACER_BUSY` when `PACER_WAITS_MAX` waits are pending.
#[napi]
pub fn pacer_sleep(env: &Env, wait_ns: f64) -> Result<Object<'_>> {
    if !(0.0..=PACER_WAIT_NS_MAX).contains(&wait_ns) {
        return Err(coded(
            "INVALID_ARGUMENT",
            format!("wait_ns must be within 0..={PACER_WAIT_NS_MAX}, got {wait_ns}"),
        ));
    }
    if PENDING.fetch_add(1, Ordering::AcqRel) >= PACER_WAITS_MAX {
        PENDING.fetch_sub(1, Ordering::AcqRel);
        return Err(coded(
            "PACER_BUSY",
            format!("{PACER_WAITS_MAX} waits are pending"),
        ));
    }
    let (wake, promise) = env.create_deferred::<(), Resolver>()?;
    let at = Instant::now() + Duration::from_nanos(wait_ns as u64);
    // Invariant: the thread lives as long as the process (it holds the receiver and never
    // returns while the sender, a static, exists).
    pacer()
        .send((at, wake))
        .expect("the pacer thread is running");
    Ok(promise)
}
