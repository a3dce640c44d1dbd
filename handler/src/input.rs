//! Reading CloudTrail input from disk: files and directories (recursively, in a stable order), plain
//! or gzip-compressed (by content, not by name), as JSON Lines (one record, envelope or log file per
//! line) or as one whole JSON document (a pretty-printed log file or record). JSON Lines are streamed
//! line by line, so memory stays flat however large the file; a whole document is read at once
//! (CloudTrail's log files are small).
//!
//! This file owns bytes and locations; what the bytes mean is `policy_rules::event`'s business.

use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
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
    #[error("`{path}`: {source}")]
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

/// Opens a file, transparently gunzipping it when it starts with the gzip magic bytes; says which.
pub fn open(path: &Path) -> io::Result<(Box<dyn BufRead + Send>, bool)> {
    let mut file = BufReader::with_capacity(1 << 20, File::open(path)?);
    let gz = file.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gz {
        (
            Box::new(BufReader::with_capacity(1 << 20, MultiGzDecoder::new(file))),
            true,
        )
    } else {
        (Box::new(file), false)
    })
}

/// Plain files up to this size are read whole (one read, no per-line copy); larger ones and gzip
/// input are streamed.
const READ_WHOLE_LIMIT: u64 = 256 << 20;

/// Reads the documents of one file and hands each to `on_doc` with its location. A first line shaped
/// like a whole JSON value (it ends with `}` or `]`) means JSON Lines, where each non-blank line is a
/// document (a CloudTrail log file is one such line); otherwise (a pretty-printed document starts
/// with a line holding just `{`) the file is one document. Returns the bytes read (decompressed).
pub fn for_each_document(
    path: &Path,
    mut on_doc: impl FnMut(DocLocation<'_>, &[u8]),
) -> io::Result<u64> {
    let size = std::fs::metadata(path)?.len();
    let (mut reader, gz) = open(path)?;
    if !gz && size <= READ_WHOLE_LIMIT {
        drop(reader);
        let mut all = Vec::with_capacity(size as usize + 1);
        File::open(path)?.read_to_end(&mut all)?;
        let first_end = memchr::memchr(b'\n', &all).unwrap_or(all.len());
        if looks_like_json_lines(all.get(..first_end).unwrap_or(&[])) {
            let mut start = 0usize;
            let ends = memchr::memchr_iter(b'\n', &all).chain(std::iter::once(all.len()));
            for (i, end) in ends.enumerate() {
                let line = all.get(start..end).unwrap_or(&[]);
                start = end + 1;
                if !line.iter().all(u8::is_ascii_whitespace) {
                    on_doc(
                        DocLocation {
                            path,
                            line: Some(i + 1),
                        },
                        line,
                    );
                }
            }
        } else if !all.iter().all(u8::is_ascii_whitespace) {
            on_doc(DocLocation { path, line: None }, &all);
        }
        return Ok(all.len() as u64);
    }
    let mut line = Vec::with_capacity(1 << 16);
    let mut total = reader.read_until(b'\n', &mut line)? as u64;
    if !looks_like_json_lines(&line) {
        // One document spread over lines (pretty-printed).
        let mut rest = line;
        total += reader.read_to_end(&mut rest)? as u64;
        if !rest.iter().all(u8::is_ascii_whitespace) {
            on_doc(DocLocation { path, line: None }, &rest);
        }
        return Ok(total);
    }
    let mut line_no = 1usize;
    loop {
        if !line.iter().all(u8::is_ascii_whitespace) {
            on_doc(
                DocLocation {
                    path,
                    line: Some(line_no),
                },
                &line,
            );
        }
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        line_no += 1;
    }
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
    use std::io::Write;

    #[test]
    fn json_lines_plain_and_gz_and_pretty_documents() {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = dir.path().join("a.jsonl");
        std::fs::write(&jsonl, "{\"a\":1}\n\n{\"b\":2}\n").unwrap();
        let mut seen = Vec::new();
        for_each_document(&jsonl, |loc, d| {
            seen.push((loc.line, String::from_utf8_lossy(d).trim().to_owned()))
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (Some(1), "{\"a\":1}".to_owned()),
                (Some(3), "{\"b\":2}".to_owned())
            ]
        );

        let gz = dir.path().join("b.json.gz");
        let mut enc =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all(b"{\n  \"Records\": []\n}\n").unwrap();
        enc.finish().unwrap();
        let mut seen = Vec::new();
        for_each_document(&gz, |loc, d| seen.push((loc.line, d.len()))).unwrap();
        assert_eq!(seen, vec![(None, 20)]);

        let files = collect_files(&[dir.path().to_owned()]).unwrap();
        assert_eq!(files.len(), 2);
        assert!(collect_files(&[dir.path().join("missing")]).is_err());
    }
}
