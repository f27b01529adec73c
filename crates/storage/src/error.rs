//! Errors of the disk layer: the IO error, the file it happened on and the
//! operation, which is what libtorrent's `file_error_alert` carries.

use std::fmt;
use std::io;

/// The operation that failed. The discriminants are libtorrent's
/// `operation_t` values, so the engine can pass them through unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Operation {
    /// Generic file operation (libtorrent `operation_t.file`).
    File = 9,
    /// Writing to a file.
    FileWrite = 7,
    /// Reading from a file.
    FileRead = 8,
    /// `stat` of a file.
    FileStat = 24,
    /// Copying a file (move across file systems).
    FileCopy = 25,
    /// Pre-allocating a file (allocation mode `allocate`).
    FileFallocate = 26,
    /// Removing a file or directory.
    FileRemove = 28,
    /// Renaming or moving a file.
    FileRename = 29,
    /// Opening (or creating) a file.
    FileOpen = 30,
    /// Creating a directory.
    Mkdir = 31,
    /// Checking existing files.
    CheckResume = 32,
    /// Moving data out of the part file into a real file.
    PartfileMove = 35,
    /// Reading the part file.
    PartfileRead = 36,
    /// Writing the part file.
    PartfileWrite = 37,
    /// Creating a symlink.
    Symlink = 39,
}

impl Operation {
    /// libtorrent's `operation_t` value.
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// libtorrent's `operation_name()` string.
    pub fn name(self) -> &'static str {
        match self {
            Operation::File => "file",
            Operation::FileWrite => "file_write",
            Operation::FileRead => "file_read",
            Operation::FileStat => "file_stat",
            Operation::FileCopy => "file_copy",
            Operation::FileFallocate => "file_fallocate",
            Operation::FileRemove => "file_remove",
            Operation::FileRename => "file_rename",
            Operation::FileOpen => "file_open",
            Operation::Mkdir => "mkdir",
            Operation::CheckResume => "check_resume",
            Operation::PartfileMove => "partfile_move",
            Operation::PartfileRead => "partfile_read",
            Operation::PartfileWrite => "partfile_write",
            Operation::Symlink => "symlink",
        }
    }
}

/// Which file an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorFile {
    /// A file of the torrent, by index.
    Index(usize),
    /// The part file holding pieces of skipped files.
    PartFile,
    /// Not about one file (e.g. the save path itself).
    None,
}

impl ErrorFile {
    /// The value libtorrent reports as `file_error_alert`'s / `torrent_status`
    /// `error_file`: the index, `-6` for the part file, `-1` for none.
    pub fn as_i32(self) -> i32 {
        match self {
            ErrorFile::Index(i) => i32::try_from(i).unwrap_or(i32::MAX),
            ErrorFile::PartFile => -6,
            ErrorFile::None => -1,
        }
    }
}

/// An IO error with the file and operation it happened in.
#[derive(Debug)]
pub struct StorageError {
    /// The underlying error; `raw_os_error()` gives the errno.
    pub error: io::Error,
    /// The file concerned.
    pub file: ErrorFile,
    /// The operation that failed.
    pub operation: Operation,
}

impl StorageError {
    /// Builds an error.
    pub fn new(error: io::Error, file: ErrorFile, operation: Operation) -> Self {
        Self {
            error,
            file,
            operation,
        }
    }

    /// True when the device is full (`ENOSPC`) or the quota is exceeded.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self.error.raw_os_error(),
            Some(libc::ENOSPC) | Some(libc::EDQUOT)
        ) || self.error.kind() == io::ErrorKind::StorageFull
    }

    /// True when the path is not writable (read-only file system, permission
    /// denied, or an immutable file/directory).
    pub fn is_read_only(&self) -> bool {
        matches!(
            self.error.raw_os_error(),
            Some(libc::EROFS) | Some(libc::EACCES) | Some(libc::EPERM)
        )
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.file {
            ErrorFile::Index(i) => {
                write!(f, "{} (file {i}): {}", self.operation.name(), self.error)
            }
            ErrorFile::PartFile => {
                write!(f, "{} (part file): {}", self.operation.name(), self.error)
            }
            ErrorFile::None => write!(f, "{}: {}", self.operation.name(), self.error),
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Shorthand for results of the disk layer.
pub type Result<T> = std::result::Result<T, StorageError>;

/// Attaches a file and operation to an `io::Result`.
pub(crate) trait Context<T> {
    fn ctx(self, file: ErrorFile, op: Operation) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn ctx(self, file: ErrorFile, op: Operation) -> Result<T> {
        self.map_err(|e| StorageError::new(e, file, op))
    }
}
