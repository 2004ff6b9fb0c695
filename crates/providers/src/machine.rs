//! Places shared by every process of this machine: `n` lock files in one folder, a place held
//! while its file is locked. Several `reviewdesk worker` processes (or a worker beside the
//! desktop app) on one machine thus run at most `n` Kling jobs between them, as Kling counts
//! them per account.
//!
//! The lock is the operating system's (`flock` through `std::fs::File::try_lock`): it goes with
//! the process, so a worker that is killed frees its place at once and nothing is left to clean
//! up. No crate is needed for it since Rust 1.89's file locks.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{ApiError, ErrorKind, ProviderError, Result};

/// Environment variable naming the folder of the machine-wide lock files.
pub const LOCK_DIR_ENV: &str = "REVIEWDESK_LOCK_DIR";

/// The folder for machine-wide lock files: `REVIEWDESK_LOCK_DIR`, else the user's runtime folder
/// (`$XDG_RUNTIME_DIR/reviewdesk`), else `reviewdesk-locks-<user>` in the temporary folder. The
/// same for every process of one user, and private to that user.
pub fn default_lock_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(LOCK_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(run).join("reviewdesk");
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "user".into());
    std::env::temp_dir().join(format!("reviewdesk-locks-{user}"))
}

/// `n` places named `name` in a folder, shared with every process that uses the same folder.
#[derive(Debug, Clone)]
pub struct MachineSlots {
    dir: PathBuf,
    name: String,
    count: usize,
}

/// One place, held until dropped (or until the process ends).
#[derive(Debug)]
pub struct MachineSlot {
    _file: File,
    index: usize,
}

impl MachineSlot {
    /// Which of the places this is (from 0).
    pub fn index(&self) -> usize {
        self.index
    }
}

impl MachineSlots {
    /// `count` places (at least one) called `name` in `dir`.
    pub fn new(dir: impl Into<PathBuf>, name: &str, count: usize) -> Self {
        MachineSlots {
            dir: dir.into(),
            name: name.to_owned(),
            count: count.max(1),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A free place now, if there is one.
    pub fn try_acquire(&self) -> Result<Option<MachineSlot>> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.io_error(&self.dir, e))?;
        for index in 0..self.count {
            let path = self.dir.join(format!("{}-{index}.lock", self.name));
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| self.io_error(&path, e))?;
            match file.try_lock() {
                Ok(()) => return Ok(Some(MachineSlot { _file: file, index })),
                Err(TryLockError::WouldBlock) => continue,
                Err(TryLockError::Error(e)) => return Err(self.io_error(&path, e)),
            }
        }
        Ok(None)
    }

    /// Waits for a free place. Another process gives no signal when it lets one go, so this looks
    /// again after a short pause that grows to half a second: a Kling job lasts minutes, and a
    /// place found up to 0.5 s late costs nothing.
    pub async fn acquire(&self) -> Result<MachineSlot> {
        let mut pause = Duration::from_millis(10);
        loop {
            let this = self.clone();
            let found = tokio::task::spawn_blocking(move || this.try_acquire())
                .await
                .map_err(|e| {
                    self.error(
                        "the lock thread failed",
                        &e.to_string(),
                        ErrorKind::Transient { retry_after: None },
                    )
                })??;
            if let Some(slot) = found {
                return Ok(slot);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// A lock file that cannot be made is the machine's setup, not the job's.
    fn io_error(&self, path: &Path, e: std::io::Error) -> ProviderError {
        self.error(
            &format!("cannot use the lock file {} ({e})", path.display()),
            &format!("set {LOCK_DIR_ENV} to a writable folder"),
            ErrorKind::Configuration,
        )
    }

    fn error(&self, headline: &str, advice: &str, kind: ErrorKind) -> ProviderError {
        ProviderError::Api(
            ApiError::new(crate::Provider::Kling, 0, "LOCK", "", kind).say(headline, advice),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_shared_between_separate_users_of_one_folder() {
        let dir = std::env::temp_dir().join(format!("rd-slots-{}", uuid::Uuid::new_v4()));
        // Two handles on one folder stand for two processes: each opens its own files, and the
        // operating system's lock is per open file, so they see each other's places.
        let a = MachineSlots::new(&dir, "kling-job", 3);
        let b = MachineSlots::new(&dir, "kling-job", 3);
        let mut held: Vec<_> = (0..3).map(|_| a.try_acquire().unwrap().unwrap()).collect();
        let mut indexes: Vec<_> = held.iter().map(|s| s.index()).collect();
        indexes.sort();
        assert_eq!(indexes, [0, 1, 2]);
        assert!(b.try_acquire().unwrap().is_none(), "all 3 places are taken");
        drop(held.remove(1));
        let got = b.try_acquire().unwrap().expect("the freed place");
        assert_eq!(got.index(), 1);
        assert!(a.try_acquire().unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_waiter_gets_the_place_another_lets_go() {
        let dir = std::env::temp_dir().join(format!("rd-slots-{}", uuid::Uuid::new_v4()));
        let a = MachineSlots::new(&dir, "kling-job", 1);
        let held = a.try_acquire().unwrap().unwrap();
        let b = MachineSlots::new(&dir, "kling-job", 1);
        let waiter = tokio::spawn(async move { b.acquire().await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "no place while it is held");
        drop(held);
        let got = waiter.await.unwrap().unwrap();
        assert_eq!(got.index(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unusable_folder_is_a_clear_error() {
        let file = std::env::temp_dir().join(format!("rd-slots-file-{}", uuid::Uuid::new_v4()));
        std::fs::write(&file, b"not a folder").unwrap();
        let e = MachineSlots::new(file.join("sub"), "kling-job", 3)
            .try_acquire()
            .unwrap_err()
            .to_string();
        assert!(e.contains(LOCK_DIR_ENV), "{e}");
        std::fs::remove_file(&file).unwrap();
    }
}
