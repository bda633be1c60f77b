//! Store errors: each names the file and says what is wrong, in words an operator can act on.

use std::fmt;
use std::path::PathBuf;

/// Why the store could not do what was asked.
#[derive(Debug)]
pub enum StoreError {
    /// The file is not a redb database, or not one of ours.
    Foreign {
        /// The file.
        path: PathBuf,
        /// What was found.
        detail: String,
    },
    /// The file is a Matchwright store, but damaged or unreadable.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The file was written by a newer (or unknown) store format.
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
        /// The version this build reads.
        reads: u32,
    },
    /// Another process has the store open.
    InUse {
        /// The file.
        path: PathBuf,
    },
    /// Reading or writing failed: the disk is full, a device failed, permissions. Nothing of
    /// the tick being written was acknowledged.
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        doing: &'static str,
        /// The cause.
        detail: String,
        /// Whether the cause is a full disk.
        disk_full: bool,
    },
    /// An earlier write failed; the store takes no more writes until it is reopened (which
    /// recovers to the last committed tick).
    Failed {
        /// The file.
        path: PathBuf,
        /// The first failure.
        cause: String,
    },
    /// Replaying the journal did not give the events it recorded: the code that wrote it
    /// behaves differently from this one.
    JournalDiverged {
        /// The file.
        path: PathBuf,
        /// The first tick that differs.
        tick: u64,
        /// What differs.
        detail: String,
    },
    /// A tick was handed over out of order.
    TickOutOfOrder {
        /// The tick expected next.
        expected: u64,
        /// The tick given.
        given: u64,
    },
    /// The matcher refused a step of recovery (config or snapshot do not fit).
    Matcher {
        /// The file.
        path: PathBuf,
        /// What the matcher said.
        detail: String,
    },
    /// An account with this username exists already.
    UsernameTaken(String),
    /// An account with this player id exists already.
    PlayerTaken(matchwright_ecs::PlayerId),
    /// A write joining the tick's commit was not written: too many wait, the tick loop is
    /// stalled or stopped. Nothing of it was written; it may be tried again.
    Busy {
        /// Why.
        detail: String,
    },
    /// The shared record (Postgres, in a cluster) did not answer or refused the statement.
    /// Nothing of the call was written (each call is one transaction); it may be tried again.
    Shared {
        /// What was being done.
        doing: &'static str,
        /// The cause.
        detail: String,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Foreign { path, detail } => {
                write!(f, "{} is not a Matchwright store: {detail}", path.display())
            }
            Self::Corrupt { path, detail } => {
                write!(f, "{} is damaged: {detail}", path.display())
            }
            Self::UnsupportedFormat { path, found, reads } => write!(
                f,
                "{} uses store format {found}; this build reads format {reads}",
                path.display(),
            ),
            Self::InUse { path } => write!(
                f,
                "{} is open in another process (one server per data directory)",
                path.display()
            ),
            Self::Io {
                path,
                doing,
                detail,
                disk_full,
            } => {
                if *disk_full {
                    write!(
                        f,
                        "{doing} {} failed: the disk is full ({detail}); the tick was not committed",
                        path.display()
                    )
                } else {
                    write!(f, "{doing} {} failed: {detail}", path.display())
                }
            }
            Self::Failed { path, cause } => write!(
                f,
                "{} takes no more writes after an earlier failure ({cause}); restart to recover",
                path.display()
            ),
            Self::JournalDiverged { path, tick, detail } => write!(
                f,
                "{}: replaying the journal diverged at tick {tick}: {detail} (was it written by \
                 another version of the matcher?)",
                path.display()
            ),
            Self::TickOutOfOrder { expected, given } => {
                write!(f, "tick {given} handed over, expected tick {expected}")
            }
            Self::Matcher { path, detail } => {
                write!(
                    f,
                    "{}: cannot rebuild the matcher: {detail}",
                    path.display()
                )
            }
            Self::UsernameTaken(name) => write!(f, "the username {name:?} is taken"),
            Self::PlayerTaken(player) => write!(f, "an account for {player} exists already"),
            Self::Busy { detail } => write!(f, "the write was not made: {detail}"),
            Self::Shared { doing, detail } => {
                write!(f, "the shared record (Postgres) failed {doing}: {detail}")
            }
        }
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    /// Whether the error is a full disk.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self,
            Self::Io {
                disk_full: true,
                ..
            }
        )
    }
}

/// Maps a redb error met while `doing` something with the file at `path`.
pub(crate) fn from_redb(
    path: &std::path::Path,
    doing: &'static str,
    error: redb::Error,
) -> StoreError {
    let path = path.to_path_buf();
    match error {
        redb::Error::Io(io) => {
            let disk_full =
                io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(28);
            if io.kind() == std::io::ErrorKind::InvalidData {
                StoreError::Foreign {
                    path,
                    detail: io.to_string(),
                }
            } else {
                StoreError::Io {
                    path,
                    doing,
                    detail: io.to_string(),
                    disk_full,
                }
            }
        }
        redb::Error::Corrupted(detail) => StoreError::Corrupt { path, detail },
        redb::Error::DatabaseAlreadyOpen => StoreError::InUse { path },
        redb::Error::UpgradeRequired(version) => StoreError::Foreign {
            path,
            detail: format!("a redb file of the old format {version}, not ours"),
        },
        redb::Error::PreviousIo => StoreError::Failed {
            path,
            cause: "an earlier write to the file failed".into(),
        },
        other => StoreError::Io {
            path,
            doing,
            detail: other.to_string(),
            disk_full: false,
        },
    }
}
