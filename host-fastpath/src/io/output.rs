//! Output files opened before a run and written after it.
//!
//! [`PendingFile::create`] opens a temporary file beside the destination
//! when a command starts, so a directory that does not exist or cannot be
//! written is an error before any packet runs; [`PendingFile::commit`] writes
//! the contents and renames it into place, so a run that fails part-way
//! leaves neither a half-written file nor a truncated old one.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An output file that fails early.
#[derive(Debug, thiserror::Error)]
#[error("{what} {path}: {source}")]
pub struct OutputError {
    /// The option or role naming the file (`--stats-json`).
    pub what: String,
    /// Destination.
    pub path: String,
    /// Cause.
    pub source: std::io::Error,
}

/// An output file, open (as a temporary beside its destination) but not
/// written yet. Dropped without [`PendingFile::commit`], it leaves nothing.
#[derive(Debug)]
pub struct PendingFile {
    what: String,
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

impl PendingFile {
    /// Opens a temporary file in `path`'s directory; `what` names the file in
    /// errors (e.g. `--dump-flows`).
    pub fn create(what: &str, path: &Path) -> Result<Self, OutputError> {
        let err = |source| OutputError {
            what: what.into(),
            path: path.display().to_string(),
            source,
        };
        let name = path
            .file_name()
            .ok_or_else(|| {
                err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "names a directory, not a file",
                ))
            })?
            .to_string_lossy()
            .into_owned();
        if path.is_dir() {
            return Err(err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "is a directory",
            )));
        }
        let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let file = File::create(&tmp).map_err(err)?;
        Ok(PendingFile {
            what: what.into(),
            path: path.to_owned(),
            tmp,
            file: Some(file),
        })
    }

    /// The destination.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` and moves the file into place.
    pub fn commit(mut self, contents: &[u8]) -> Result<(), OutputError> {
        let err = |source| OutputError {
            what: self.what.clone(),
            path: self.path.display().to_string(),
            source,
        };
        let mut f = self
            .file
            .take()
            .ok_or_else(|| err(std::io::Error::other("already committed")))?;
        f.write_all(contents)
            .and_then(|_| f.sync_data())
            .map_err(err)?;
        drop(f);
        std::fs::rename(&self.tmp, &self.path).map_err(err)
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("fastpath-output-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn missing_directories_fail_at_open_and_nothing_is_left_behind() {
        let e =
            PendingFile::create("--stats-json", Path::new("/nonexistent-dir/s.json")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--stats-json /nonexistent-dir/s.json: No such file or directory"),
            "{e}"
        );
        let d = dir();
        let e = PendingFile::create("--dump-flows", &d).unwrap_err();
        assert!(e.to_string().ends_with("is a directory"), "{e}");
        let p = d.join("keep.txt");
        std::fs::write(&p, "old").unwrap();
        // Abandoned: the old file stays, no temporary remains.
        drop(PendingFile::create("x", &p).unwrap());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old");
        PendingFile::create("x", &p)
            .unwrap()
            .commit(b"new")
            .unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        let left: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("keep.txt")]);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
