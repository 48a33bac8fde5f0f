//! The run lock of an output folder: an advisory `flock` on a lock file in the run's state
//! folder (`OUT/.ingest/lock` for `shard`; the private state folder beside the dataset for
//! `ingest`, see [`RunLock::rank_in`]), held for the whole run, so two runs never write into one
//! folder at the same time.
//!
//! A single-process run (and `bomdata merge`, `bomdata shard`) holds the lock exclusively. The
//! ranks of one distributed run share the folder by design: each holds the lock *shared* plus
//! its own `lock.rank-<R>` exclusively, so ranks run side by side, while a second copy of one
//! rank, or a single-process run beside them, is refused. Each holder writes its host, process
//! ID and role into the file it holds exclusively; a refusal names them. The lock is released by
//! the operating system when the process ends, however it ends.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Folder of a run's private state inside the output directory.
pub const STATE_DIR: &str = ".ingest";
/// Name of the lock file in [`STATE_DIR`].
pub const LOCK: &str = "lock";

/// A held run lock; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _files: Vec<File>,
}

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Host name of this machine (best effort).
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

fn write_holder(f: &mut File, path: &Path, role: &str) -> Result<()> {
    let text = format!("host={} pid={} role={role}\n", host(), std::process::id());
    f.set_len(0)
        .and_then(|()| f.rewind())
        .and_then(|()| f.write_all(text.as_bytes()))
        .map_err(|e| Error::io(path, e))
}

fn read_holder(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = Read::by_ref(&mut f).take(4096).read_to_string(&mut s);
    }
    s.trim().to_string()
}

/// Who holds the locks of a folder now: the rank locks still held, else the main lock's text.
fn holders(state: &Path) -> String {
    let mut held = Vec::new();
    if let Ok(rd) = std::fs::read_dir(state) {
        let mut paths: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("lock.rank-"))
            })
            .collect();
        paths.sort();
        for p in paths {
            let Ok(f) = File::open(&p) else { continue };
            match f.try_lock_shared() {
                Ok(()) => {}
                Err(_) => held.push(read_holder(&p)),
            }
        }
    }
    if held.is_empty() {
        held.push(read_holder(&state.join(LOCK)));
    }
    held.retain(|h| !h.is_empty());
    if held.is_empty() {
        "holder unknown".into()
    } else {
        held.join("; ")
    }
}

fn refused(state: &Path, path: &Path) -> Error {
    Error::Locked {
        path: path.to_path_buf(),
        holder: holders(state),
    }
}

fn try_lock(f: &File, shared: bool, state: &Path, path: &Path) -> Result<()> {
    let r = if shared {
        f.try_lock_shared()
    } else {
        f.try_lock()
    };
    match r {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(refused(state, path)),
        Err(TryLockError::Error(e)) => Err(Error::io(path, e)),
    }
}

/// Locks the folder `guard` itself (a `flock` on the directory), shared or exclusive, so that
/// two runs whose state folders differ still cannot write into one dataset folder.
fn lock_dir(guard: &Path, shared: bool, state: &Path) -> Result<File> {
    std::fs::create_dir_all(guard).map_err(|e| Error::io(guard, e))?;
    let f = File::open(guard).map_err(|e| Error::io(guard, e))?;
    let r = if shared {
        f.try_lock_shared()
    } else {
        f.try_lock()
    };
    match r {
        Ok(()) => Ok(f),
        // The state folder's own lock was free (it is taken first), so the holder keeps its
        // state elsewhere.
        Err(TryLockError::WouldBlock) => Err(Error::Locked {
            path: guard.to_path_buf(),
            holder: format!(
                "a run whose state folder is elsewhere (not {})",
                state.display()
            ),
        }),
        Err(TryLockError::Error(e)) => Err(Error::io(guard, e)),
    }
}

impl RunLock {
    /// Takes the lock of a run whose state lives in the folder `state` and that writes into the
    /// folder `guard`, as rank `rank` of `world` (see [`RunLock::rank`]): the lock files are in
    /// `state`, and `guard` itself is locked too (shared by the ranks, exclusive for a
    /// single-process run), so a second run is refused even with another state folder.
    pub fn rank_in(
        state: &Path,
        guard: &Path,
        role: &str,
        rank: usize,
        world: usize,
    ) -> Result<RunLock> {
        let mut lock = RunLock::rank_at(state, role, rank, world)?;
        lock._files.push(lock_dir(guard, world > 1, state)?);
        Ok(lock)
    }

    /// Takes the lock of `out` for this process alone (`role` is written into the lock file,
    /// e.g. `"ingest"`). Fails with [`Error::Locked`] naming the holder when another run holds it.
    pub fn exclusive(out: &Path, role: &str) -> Result<RunLock> {
        RunLock::exclusive_at(&out.join(STATE_DIR), role)
    }

    /// [`RunLock::exclusive`] with the lock files in the folder `state`.
    fn exclusive_at(state: &Path, role: &str) -> Result<RunLock> {
        let state = state.to_path_buf();
        std::fs::create_dir_all(&state).map_err(|e| Error::io(&state, e))?;
        let path = state.join(LOCK);
        let mut f = open(&path)?;
        try_lock(&f, false, &state, &path)?;
        write_holder(&mut f, &path, role)?;
        Ok(RunLock { _files: vec![f] })
    }

    /// Takes the lock of `out` as rank `rank` of `world`: shared with the other ranks, exclusive
    /// for this rank. With `world == 1` this is [`RunLock::exclusive`].
    pub fn rank(out: &Path, role: &str, rank: usize, world: usize) -> Result<RunLock> {
        RunLock::rank_at(&out.join(STATE_DIR), role, rank, world)
    }

    /// [`RunLock::rank`] with the lock files in the folder `state`.
    fn rank_at(state: &Path, role: &str, rank: usize, world: usize) -> Result<RunLock> {
        if world <= 1 {
            return RunLock::exclusive_at(state, role);
        }
        let state = state.to_path_buf();
        std::fs::create_dir_all(&state).map_err(|e| Error::io(&state, e))?;
        let path = state.join(LOCK);
        let main = open(&path)?;
        try_lock(&main, true, &state, &path)?;
        let rank_path = state.join(format!("lock.rank-{rank}"));
        let mut mine = open(&rank_path)?;
        try_lock(&mine, false, &state, &rank_path)?;
        write_holder(
            &mut mine,
            &rank_path,
            &format!("{role} rank {rank} of {world}"),
        )?;
        Ok(RunLock {
            _files: vec![main, mine],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_exclusive_is_refused_and_names_holder() {
        let dir = tempfile::tempdir().unwrap();
        let _a = RunLock::exclusive(dir.path(), "ingest").unwrap();
        let e = RunLock::exclusive(dir.path(), "ingest").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("pid={}", std::process::id())),
            "{msg}"
        );
        assert!(RunLock::rank(dir.path(), "ingest", 0, 2).is_err());
    }

    #[test]
    fn ranks_share_but_one_rank_is_held_once() {
        let dir = tempfile::tempdir().unwrap();
        let _r0 = RunLock::rank(dir.path(), "ingest", 0, 2).unwrap();
        let _r1 = RunLock::rank(dir.path(), "ingest", 1, 2).unwrap();
        let e = RunLock::rank(dir.path(), "ingest", 1, 2).unwrap_err();
        assert!(e.to_string().contains("rank 1 of 2"), "{e}");
        let e = RunLock::exclusive(dir.path(), "merge").unwrap_err();
        assert!(e.to_string().contains("rank 0 of 2"), "{e}");
    }

    #[test]
    fn the_guarded_folder_is_locked_whatever_the_state_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let _a = RunLock::rank_in(&dir.path().join("s1"), &out, "ingest", 0, 1).unwrap();
        let e = RunLock::rank_in(&dir.path().join("s2"), &out, "ingest", 0, 1).unwrap_err();
        assert!(e.to_string().contains("state folder is elsewhere"), "{e}");
        let e = RunLock::rank_in(&dir.path().join("s1"), &out, "ingest", 0, 1).unwrap_err();
        assert!(e.to_string().contains("pid="), "{e}");
        drop(_a);
        let _r0 = RunLock::rank_in(&dir.path().join("s1"), &out, "ingest", 0, 2).unwrap();
        let _r1 = RunLock::rank_in(&dir.path().join("s1"), &out, "ingest", 1, 2).unwrap();
    }
}
