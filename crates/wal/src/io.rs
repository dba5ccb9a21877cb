//! The two ways a group reaches the disk: io_uring (a write linked to an fdatasync, one
//! submission per group) and the fallback (pwrite + fdatasync). Both report errors; neither
//! retries a failed sync, because after a failed fdatasync the page cache state is unknown.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;

use io_uring::{opcode, squeue, types, IoUring};

/// Test-only fault injection, counted per opened log in groups (0-based).
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// The nth group's fdatasync fails with EIO (the group's bytes are written first).
    pub fail_sync_at: Option<u64>,
    /// The nth group is torn: only its first half reaches the file, then the process aborts,
    /// as a power cut in the middle of a write would leave it. Nothing in the group was
    /// acknowledged, so recovery may drop all of it.
    pub torn_write_at: Option<u64>,
    /// Whether `Wal::set_sync_stall` may slow every fdatasync down (a disk-stall experiment);
    /// refused otherwise, so a production log cannot be slowed by a stray call.
    pub allow_stall: bool,
}

pub enum Backend {
    Uring(Box<IoUring>),
    Pwrite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    Auto,
    Uring,
    Pwrite,
}

impl Backend {
    /// Probes io_uring once: a ring must be creatable and support WRITE and FSYNC.
    /// Returns the backend and, when falling back under `Auto`, why.
    pub fn open(choice: BackendChoice) -> io::Result<(Backend, Option<String>)> {
        if choice == BackendChoice::Pwrite {
            return Ok((Backend::Pwrite, None));
        }
        match probe_uring() {
            Ok(ring) => Ok((Backend::Uring(Box::new(ring)), None)),
            Err(err) if choice == BackendChoice::Auto => {
                Ok((Backend::Pwrite, Some(err.to_string())))
            }
            Err(err) => Err(err),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Uring(_) => "io_uring",
            Backend::Pwrite => "pwrite",
        }
    }

    /// Writes `buf` at `offset` and makes it durable with one fdatasync.
    pub fn write_and_sync(&mut self, file: &File, offset: u64, buf: &[u8]) -> io::Result<()> {
        match self {
            Backend::Uring(ring) if !buf.is_empty() => uring_write_sync(ring, file, offset, buf),
            _ => {
                file.write_all_at(buf, offset)?;
                file.sync_data()
            }
        }
    }
}

fn probe_uring() -> io::Result<IoUring> {
    let ring = IoUring::new(8)?;
    let mut probe = io_uring::Probe::new();
    ring.submitter().register_probe(&mut probe)?;
    if !probe.is_supported(opcode::Write::CODE) || !probe.is_supported(opcode::Fsync::CODE) {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "io_uring lacks WRITE or FSYNC",
        ));
    }
    Ok(ring)
}

const USER_DATA_WRITE: u64 = 1;
const USER_DATA_SYNC: u64 = 2;

fn uring_write_sync(ring: &mut IoUring, file: &File, offset: u64, buf: &[u8]) -> io::Result<()> {
    let fd = types::Fd(file.as_raw_fd());
    let write = opcode::Write::new(fd, buf.as_ptr(), buf.len() as u32)
        .offset(offset)
        .build()
        .flags(squeue::Flags::IO_LINK)
        .user_data(USER_DATA_WRITE);
    let sync = opcode::Fsync::new(fd)
        .flags(types::FsyncFlags::DATASYNC)
        .build()
        .user_data(USER_DATA_SYNC);
    // SAFETY: `buf` and `file` outlive the submission: we wait for both completions below
    // before returning, so the kernel never sees a dangling pointer or fd.
    unsafe {
        let mut sq = ring.submission();
        sq.push(&write)
            .map_err(|_| io::Error::other("submission queue full"))?;
        sq.push(&sync)
            .map_err(|_| io::Error::other("submission queue full"))?;
    }
    ring.submit_and_wait(2)?;
    let mut written: Option<i32> = None;
    let mut synced: Option<i32> = None;
    while written.is_none() || synced.is_none() {
        let next = ring.completion().next();
        let cqe = match next {
            Some(cqe) => cqe,
            None => {
                ring.submit_and_wait(1)?;
                continue;
            }
        };
        match cqe.user_data() {
            USER_DATA_WRITE => written = Some(cqe.result()),
            _ => synced = Some(cqe.result()),
        }
    }
    let written = written.unwrap_or(0);
    if written < 0 {
        return Err(io::Error::from_raw_os_error(-written));
    }
    if (written as usize) < buf.len() {
        // A short write cancels the linked fsync (-ECANCELED): finish the write and sync here.
        file.write_all_at(&buf[written as usize..], offset + written as u64)?;
        return file.sync_data();
    }
    match synced {
        Some(res) if res < 0 => Err(io::Error::from_raw_os_error(-res)),
        _ => Ok(()),
    }
}
