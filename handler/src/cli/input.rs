//! Reading CloudTrail input from disk: files and directories (recursively, in a stable order), plain
//! or gzip-compressed (by content, not by name), as JSON Lines (one record, envelope or log file per
//! line) or as one whole JSON document (a pretty-printed log file or record). JSON Lines are streamed
//! line by line, so memory stays flat however large the file; a whole document is read at once
//! (CloudTrail's log files are small). A `DocumentReader` keeps its buffer from file to file. What is
//! not a regular file (a named pipe, `<(zcat …)`) is streamed too, as it comes. The caller may stop
//! the reading after any document (its output was closed).
//!
//! This file owns bytes and locations; what the bytes mean is `policy_rules::event`'s business.

use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// Where a document came from, for messages: the file, and the line for JSON Lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocLocation<'p> {
    pub path: &'p Path,
    /// 1-based line of the document, for JSON Lines; `None` for a whole-file document.
    pub line: Option<usize>,
}

/// A problem reading a path.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The I/O error is the source, not part of the message, so a printed chain says it once.
    #[error("cannot read `{}`", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// The files under `paths`: each file itself, each directory walked recursively, sorted within a
/// directory. Hidden files and directories (starting with `.`) are skipped inside directories.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<(PathBuf, u64)>, InputError> {
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out, true)?;
    }
    Ok(out)
}

fn walk(path: &Path, out: &mut Vec<(PathBuf, u64)>, top: bool) -> Result<(), InputError> {
    let io_err = |source| InputError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io_err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            let hidden = e
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if !hidden {
                walk(&e, out, false)?;
            }
        }
    } else if meta.is_file() || top {
        out.push((path.to_owned(), meta.len()));
    }
    Ok(())
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Plain files up to this size are read whole (one read, no per-line copy); larger ones and gzip
/// input are streamed.
const READ_WHOLE_LIMIT: u64 = 256 << 20;

/// How much a streamed read asks for at a time, and the buffer a reader starts with.
const STREAM_CHUNK: usize = 1 << 20;

/// A buffer kept beyond this after a file is given back, so one huge line does not pin its memory.
const KEPT_BUFFER: usize = 64 << 20;

/// Reads the documents of one file and hands each to `on_doc` with its location (see
/// [`DocumentReader::for_each_document`]), with a buffer of its own.
pub fn for_each_document(
    path: &Path,
    on_doc: impl FnMut(DocLocation<'_>, &[u8]) -> ControlFlow<()>,
) -> io::Result<u64> {
    DocumentReader::default().for_each_document(path, on_doc)
}

/// Reads files into one buffer it keeps between files (a replay thread holds one), so reading a file
/// costs no fresh allocation and no copy beyond the read itself.
#[derive(Debug, Default)]
pub struct DocumentReader {
    buf: Vec<u8>,
}

impl DocumentReader {
    /// Reads the documents of one file and hands each to `on_doc` with its location. A first line
    /// shaped like a whole JSON value (it ends with `}` or `]`) means JSON Lines, where each non-blank
    /// line is a document (a CloudTrail log file is one such line); otherwise (a pretty-printed
    /// document starts with a line holding just `{`) the file is one document. Gzip input is
    /// recognised by its first bytes, whatever the name. `on_doc` returning `Break` stops the reading
    /// there. Returns the bytes read (decompressed).
    pub fn for_each_document(
        &mut self,
        path: &Path,
        mut on_doc: impl FnMut(DocLocation<'_>, &[u8]) -> ControlFlow<()>,
    ) -> io::Result<u64> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let size = meta.len();
        let mut head = Vec::with_capacity(GZIP_MAGIC.len());
        (&mut file)
            .take(GZIP_MAGIC.len() as u64)
            .read_to_end(&mut head)?;
        let gz = head.starts_with(&GZIP_MAGIC);
        let buf = &mut self.buf;
        // A named pipe's size says nothing of what will come: it is streamed.
        let result = if !gz && meta.is_file() && size <= READ_WHOLE_LIMIT {
            buf.clear();
            buf.reserve(usize::try_from(size).unwrap_or(0) + 1);
            buf.extend_from_slice(&head);
            file.read_to_end(buf).map(|_| {
                split_whole(path, buf, &mut on_doc);
                buf.len() as u64
            })
        } else {
            // The sniffed bytes go back in front of the rest.
            let source = io::Cursor::new(head).chain(file);
            if gz {
                stream(
                    path,
                    MultiGzDecoder::new(source),
                    buf,
                    STREAM_CHUNK,
                    &mut on_doc,
                )
            } else {
                stream(path, source, buf, STREAM_CHUNK, &mut on_doc)
            }
        };
        if self.buf.capacity() > KEPT_BUFFER {
            self.buf = Vec::new();
        }
        result
    }
}

/// The documents of a file read whole: its lines for JSON Lines (without their line ends), else the
/// whole text.
fn split_whole(
    path: &Path,
    all: &[u8],
    on_doc: &mut impl FnMut(DocLocation<'_>, &[u8]) -> ControlFlow<()>,
) {
    let first_end = memchr::memchr(b'\n', all).unwrap_or(all.len());
    if !looks_like_json_lines(all.get(..first_end).unwrap_or(&[])) {
        if !all.iter().all(u8::is_ascii_whitespace) {
            let _ = on_doc(DocLocation { path, line: None }, all);
        }
        return;
    }
    let mut start = 0usize;
    // After the first line end (none when the file has none): the other line ends, then the end.
    let rest_ends = all.get(first_end + 1..).into_iter().flat_map(|rest| {
        memchr::memchr_iter(b'\n', rest)
            .map(move |i| i + first_end + 1)
            .chain(std::iter::once(all.len()))
    });
    let ends = std::iter::once(first_end).chain(rest_ends);
    for (i, end) in ends.enumerate() {
        let line = all.get(start..end).unwrap_or(&[]);
        start = end + 1;
        if !line.iter().all(u8::is_ascii_whitespace)
            && on_doc(
                DocLocation {
                    path,
                    line: Some(i + 1),
                },
                line,
            )
            .is_break()
        {
            return;
        }
    }
}

/// The documents of a streamed file, read through `buf` without a copy per line: its lines for JSON
/// Lines (each with its line end), else the whole text (a pretty-printed document). Memory stays at
/// the longest line, however large the file.
fn stream(
    path: &Path,
    mut reader: impl Read,
    buf: &mut Vec<u8>,
    chunk: usize,
    on_doc: &mut impl FnMut(DocLocation<'_>, &[u8]) -> ControlFlow<()>,
) -> io::Result<u64> {
    // Whatever `buf` holds is overwritten, never read: only its length is used, so a buffer kept
    // from the last file is not cleared again.
    if buf.len() < chunk.max(1) {
        buf.resize(chunk.max(1), 0);
    }
    // `buf[..end]` is read; `buf[start..end]` is not handed over yet; `buf[start..searched]` holds
    // no line end. `json_lines` is decided at the first line end (or the end of input).
    let (mut start, mut searched, mut end) = (0usize, 0usize, 0usize);
    let mut json_lines: Option<bool> = None;
    let mut line_no = 0usize;
    let mut total = 0u64;
    let mut hand_over = |line: &[u8], line_no: usize| {
        if line.iter().all(u8::is_ascii_whitespace) {
            return ControlFlow::Continue(());
        }
        on_doc(
            DocLocation {
                path,
                line: Some(line_no),
            },
            line,
        )
    };
    loop {
        if json_lines != Some(false) {
            while let Some(i) = memchr::memchr(b'\n', buf.get(searched..end).unwrap_or(&[])) {
                let line_end = searched + i + 1;
                let line = buf.get(start..line_end).unwrap_or(&[]);
                if json_lines.is_none() {
                    json_lines = Some(looks_like_json_lines(line));
                    if json_lines == Some(false) {
                        break;
                    }
                }
                line_no += 1;
                if hand_over(line, line_no).is_break() {
                    return Ok(total);
                }
                start = line_end;
                searched = line_end;
            }
            if json_lines != Some(false) {
                searched = end;
            }
        }
        if end == buf.len() {
            if start > 0 {
                buf.copy_within(start..end, 0);
                end -= start;
                searched -= start;
                start = 0;
            } else {
                let grown = buf.len() * 2;
                buf.resize(grown, 0);
            }
        }
        let n = match reader.read(buf.get_mut(end..).unwrap_or(&mut [])) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        end += n;
        total += n as u64;
    }
    let rest = buf.get(start..end).unwrap_or(&[]);
    // The last document: nothing is read after it, so whether the caller stops makes no difference.
    let _ = match json_lines {
        Some(true) => hand_over(rest, line_no + 1),
        // A file whose first line does not look like JSON Lines (or that has no line end) is one
        // document.
        _ if looks_like_json_lines(rest) && json_lines.is_none() => hand_over(rest, 1),
        _ if rest.iter().all(u8::is_ascii_whitespace) => ControlFlow::Continue(()),
        _ => on_doc(DocLocation { path, line: None }, rest),
    };
    Ok(total)
}

fn looks_like_json_lines(first_line: &[u8]) -> bool {
    let t = first_line.trim_ascii();
    t.len() > 1
        && matches!(t.first(), Some(b'{') | Some(b'['))
        && matches!(t.last(), Some(b'}') | Some(b']'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, Write};

    #[test]
    fn json_lines_plain_and_gz_and_pretty_documents() {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = dir.path().join("a.jsonl");
        std::fs::write(&jsonl, "{\"a\":1}\n\n{\"b\":2}\n").unwrap();
        let mut seen = Vec::new();
        for_each_document(&jsonl, |loc, d| {
            seen.push((loc.line, String::from_utf8_lossy(d).trim().to_owned()));
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (Some(1), "{\"a\":1}".to_owned()),
                (Some(3), "{\"b\":2}".to_owned())
            ]
        );
        let seen_plain = seen;

        let gz = dir.path().join("b.json.gz");
        let mut enc =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all(b"{\n  \"Records\": []\n}\n").unwrap();
        enc.finish().unwrap();
        let mut seen = Vec::new();
        for_each_document(&gz, |loc, d| {
            seen.push((loc.line, d.len()));
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(seen, vec![(None, 20)]);

        // The same file streamed (as a large plain file would be) reads the same.
        let mut streamed = Vec::new();
        stream(
            &jsonl,
            File::open(&jsonl).unwrap(),
            &mut Vec::new(),
            STREAM_CHUNK,
            &mut |loc, d| {
                streamed.push((loc.line, String::from_utf8_lossy(d).trim().to_owned()));
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        assert_eq!(streamed, seen_plain);

        let files = collect_files(&[dir.path().to_owned()]).unwrap();
        assert_eq!(files.len(), 2);
        assert!(collect_files(&[dir.path().join("missing")]).is_err());
    }

    /// A reader that hands out at most `step` bytes a read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// What `stream` hands over, as (line, text), for `data` read `step` bytes at a time through a
    /// buffer that starts at `chunk` bytes.
    fn streamed(data: &[u8], step: usize, chunk: usize) -> Vec<(Option<usize>, Vec<u8>)> {
        let mut out = Vec::new();
        let total = stream(
            Path::new("x"),
            Trickle { data, step },
            // A buffer kept from an earlier file: its stale bytes (line ends) must never be read.
            &mut vec![b'\n'; 5],
            chunk,
            &mut |loc, d| {
                out.push((loc.line, d.to_vec()));
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        assert_eq!(total, data.len() as u64);
        out
    }

    /// The documents as the line-by-line reader before `stream` handed them over (each line with its
    /// line end, a first line not shaped like JSON meaning one document).
    fn by_read_until(data: &[u8]) -> Vec<(Option<usize>, Vec<u8>)> {
        let mut reader = data;
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).unwrap();
        if !looks_like_json_lines(&line) {
            reader.read_to_end(&mut line).unwrap();
            let blank = line.iter().all(u8::is_ascii_whitespace);
            return if blank { vec![] } else { vec![(None, line)] };
        }
        let mut out = Vec::new();
        let mut n = 1;
        loop {
            if !line.iter().all(u8::is_ascii_whitespace) {
                out.push((Some(n), line.clone()));
            }
            line.clear();
            if reader.read_until(b'\n', &mut line).unwrap() == 0 {
                return out;
            }
            n += 1;
        }
    }

    #[test]
    fn the_caller_stops_the_reading_after_any_document() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n").unwrap();
        // Counts the documents handed over, and stops at the second.
        let seen = std::cell::Cell::new(0);
        let stop_at_two = |_: DocLocation<'_>, _: &[u8]| {
            seen.set(seen.get() + 1);
            if seen.get() == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        for_each_document(&path, stop_at_two).unwrap();
        assert_eq!(seen.replace(0), 2);
        let data = std::fs::read(&path).unwrap();
        stream(&path, &data[..], &mut Vec::new(), 4, &mut { stop_at_two }).unwrap();
        assert_eq!(seen.get(), 2);
    }

    #[test]
    fn streaming_splits_lines_across_reads_and_buffer_growth() {
        let long = format!("{{\"Records\":[{}]}}", "1,".repeat(40) + "2");
        let cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"\n\n".to_vec(),
            b"{\"a\":1}".to_vec(),
            b"{\"a\":1}\n".to_vec(),
            format!("{long}\n\n{{\"b\":2}}\r\n  \n{long}").into_bytes(),
            format!("{{\n  \"Records\": [\n{long}\n]\n}}\n").into_bytes(),
            b"{\n}".to_vec(),
            b"[1]\nnot json\n{".to_vec(),
        ];
        for data in &cases {
            let want = by_read_until(data);
            for (step, chunk) in [(1, 1), (3, 2), (7, 16), (64, 8), (1000, 4096)] {
                assert_eq!(
                    streamed(data, step, chunk),
                    want,
                    "{:?} step {step} chunk {chunk}",
                    String::from_utf8_lossy(data)
                );
            }
        }
    }
}
