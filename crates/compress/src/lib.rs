//! One-shot zstd frames for backup log segments (Node 20's zlib has no zstd). Safe wrappers
//! over the C library RocksDB already links, so nothing new is compiled.
//!
//! Invariant: `decompress` never allocates more than the caller's `max_bytes`, whatever the
//! frame header claims (a damaged or hostile object cannot exhaust memory).

use std::ffi::CStr;

#[derive(Debug, thiserror::Error)]
pub enum CompressError {
    #[error("zstd: {0}")]
    Zstd(String),
    #[error("the frame holds {size} bytes, more than the limit of {max} bytes")]
    TooLarge { size: u64, max: usize },
    #[error("not a zstd frame with a known content size")]
    NotAFrame,
}

impl CompressError {
    pub fn code(&self) -> &'static str {
        match self {
            CompressError::Zstd(_) | CompressError::NotAFrame => "CORRUPT",
            CompressError::TooLarge { .. } => "TOO_LARGE",
        }
    }
}

fn check(result: usize) -> Result<usize, CompressError> {
    // SAFETY: ZSTD_isError and ZSTD_getErrorName take any value and return a static string.
    unsafe {
        if zstd_sys::ZSTD_isError(result) != 0 {
            let name = CStr::from_ptr(zstd_sys::ZSTD_getErrorName(result));
            return Err(CompressError::Zstd(name.to_string_lossy().into_owned()));
        }
    }
    Ok(result)
}

/// One zstd frame holding `data` (its content size recorded in the header).
pub fn compress(data: &[u8], level: i32) -> Result<Vec<u8>, CompressError> {
    // SAFETY: `out` has `bound` bytes of capacity, zstd writes at most that and returns the
    // length written, which becomes the vector's length only after it succeeded.
    unsafe {
        let bound = zstd_sys::ZSTD_compressBound(data.len());
        let mut out = Vec::<u8>::with_capacity(bound);
        let written = check(zstd_sys::ZSTD_compress(
            out.as_mut_ptr().cast(),
            bound,
            data.as_ptr().cast(),
            data.len(),
            level,
        ))?;
        assert!(written <= bound, "zstd wrote past its bound");
        out.set_len(written);
        Ok(out)
    }
}

/// The content of one zstd frame made by `compress`, refused if it would exceed `max_bytes`.
pub fn decompress(frame: &[u8], max_bytes: usize) -> Result<Vec<u8>, CompressError> {
    // SAFETY: the content size is checked against `max_bytes` before allocating; zstd writes at
    // most `size` bytes into `out` and returns how many it wrote.
    unsafe {
        let size = zstd_sys::ZSTD_getFrameContentSize(frame.as_ptr().cast(), frame.len());
        if size == zstd_sys::ZSTD_CONTENTSIZE_ERROR as u64
            || size == zstd_sys::ZSTD_CONTENTSIZE_UNKNOWN as u64
        {
            return Err(CompressError::NotAFrame);
        }
        if size > max_bytes as u64 {
            return Err(CompressError::TooLarge {
                size,
                max: max_bytes,
            });
        }
        let size = size as usize;
        let mut out = Vec::<u8>::with_capacity(size);
        let written = check(zstd_sys::ZSTD_decompress(
            out.as_mut_ptr().cast(),
            size,
            frame.as_ptr().cast(),
            frame.len(),
        ))?;
        if written != size {
            return Err(CompressError::Zstd(format!(
                "{written} bytes, the header says {size}"
            )));
        }
        out.set_len(written);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_shrinks_repetitive_data() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 97).to_le_bytes())
            .collect();
        let frame = compress(&data, 3).unwrap();
        assert!(frame.len() < data.len() / 4, "{} bytes", frame.len());
        assert_eq!(decompress(&frame, data.len()).unwrap(), data);
    }

    #[test]
    fn empty_input_round_trips() {
        let frame = compress(&[], 3).unwrap();
        assert_eq!(decompress(&frame, 0).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn refuses_a_frame_larger_than_the_limit() {
        let frame = compress(&[7u8; 4096], 3).unwrap();
        assert!(matches!(
            decompress(&frame, 4095),
            Err(CompressError::TooLarge { size: 4096, .. })
        ));
    }

    #[test]
    fn refuses_damaged_frames() {
        let data: Vec<u8> = (0..50_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut frame = compress(&data, 3).unwrap();
        assert!(matches!(
            decompress(b"not zstd at all", 1 << 20),
            Err(CompressError::NotAFrame)
        ));
        let mid = frame.len() / 2;
        frame[mid] ^= 0xff;
        frame.truncate(frame.len() - 3);
        assert!(decompress(&frame, data.len()).is_err());
    }
}
