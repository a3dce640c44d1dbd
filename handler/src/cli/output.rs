//! Where the `warden` commands' data goes (stdout in the binary), and what a failed write means. A
//! reader that went away (`warden … | head -1`) ends the command at once and quietly, as it does for
//! other Unix tools: [`DataOutput`] turns that write error into one [`is_closed_output`] recognises,
//! so the binary can exit 0 without a message rather than panic. Any other write error (a full disk)
//! stays an error. [`SharedOutput`] is one output for replay's threads: the first failed write is
//! kept and flagged, and every thread checks the flag to stop reading, not only the one that failed.
//!
//! Logs, progress and warnings go to stderr; they are not this file's business.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The inner error of a write to an output whose reader went away.
#[derive(Debug, thiserror::Error)]
#[error("the output was closed")]
pub struct OutputClosed;

/// Whether `e` (or one of its causes) is a write to a closed output made through [`DataOutput`].
pub fn is_closed_output(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref)
            .is_some_and(|inner| inner.is::<OutputClosed>())
    })
}

/// Whether an I/O error is a write to a closed output made through [`DataOutput`].
pub fn is_closed_io(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<OutputClosed>())
}

/// A writer whose "broken pipe" errors say that the output was closed ([`OutputClosed`]), so they are
/// told apart from a broken pipe anywhere else (a network socket).
#[derive(Debug)]
pub struct DataOutput<W> {
    inner: W,
}

impl<W: Write> DataOutput<W> {
    pub fn new(inner: W) -> Self {
        DataOutput { inner }
    }
}

fn mark_closed(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(io::ErrorKind::BrokenPipe, OutputClosed)
    } else {
        e
    }
}

impl<W: Write> Write for DataOutput<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(mark_closed)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(mark_closed)
    }
}

/// One output written from several threads, whole buffers at a time so lines never interleave. After
/// the first failed write nothing more is written; [`SharedOutput::failed`] says so without a lock,
/// and [`SharedOutput::finish`] returns the error.
pub struct SharedOutput {
    state: Mutex<SharedState>,
    failed: AtomicBool,
}

struct SharedState {
    out: Box<dyn Write + Send>,
    error: Option<io::Error>,
}

impl SharedOutput {
    pub fn new(out: impl Write + Send + 'static) -> Self {
        SharedOutput {
            state: Mutex::new(SharedState {
                out: Box::new(out),
                error: None,
            }),
            failed: AtomicBool::new(false),
        }
    }

    /// Writes all of `buf`, unless a write failed before.
    pub fn write_all(&self, buf: &[u8]) {
        if self.failed() {
            return;
        }
        // A poisoned lock means a thread panicked while writing; its panic is reported on its own.
        if let Ok(mut state) = self.state.lock() {
            if state.error.is_none() {
                if let Err(e) = state.out.write_all(buf) {
                    state.error = Some(e);
                    self.failed.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    /// Whether a write failed, so the writers should stop.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Flushes, and returns the first write error, if any.
    pub fn finish(&self) -> io::Result<()> {
        let Ok(mut state) = self.state.lock() else {
            return Err(io::Error::other(
                "a thread panicked while writing the output",
            ));
        };
        if let Some(e) = state.error.take() {
            return Err(e);
        }
        state.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader went away after `room` bytes.
    struct ClosedAfter {
        room: usize,
    }

    impl Write for ClosedAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_output_is_told_apart_from_other_broken_pipes() {
        let mut out = DataOutput::new(ClosedAfter { room: 3 });
        let e = out.write_all(b"hello").unwrap_err();
        assert!(is_closed_io(&e));
        let e = anyhow::Error::from(e).context("while printing");
        assert!(is_closed_output(&e));
        // A broken pipe that did not come through `DataOutput` (a socket) is an ordinary error.
        let socket = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(!is_closed_output(&socket));
        // Other write errors stay what they are.
        let full = mark_closed(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(!is_closed_io(&full));
    }

    #[test]
    fn shared_output_stops_after_the_first_failed_write() {
        let shared = SharedOutput::new(DataOutput::new(ClosedAfter { room: 4 }));
        shared.write_all(b"ab");
        assert!(!shared.failed());
        shared.write_all(b"cdef");
        assert!(shared.failed());
        shared.write_all(b"gh");
        assert!(is_closed_io(&shared.finish().unwrap_err()));
    }
}
