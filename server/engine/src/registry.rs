//! The per-user registry of projects: which directories hold a
//! tdd-orchestrator project, so the daemon can show them all. It lists
//! paths only; each project's data stays in its own `.tdd/`.
//!
//! `$XDG_DATA_HOME/tdd-orchestrator/projects.json` (else
//! `~/.local/share/…`), written whole to a temporary file and renamed, under
//! an advisory lock, so concurrent `init`, `lsp` and `run` never lose an
//! entry or leave half a file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: not a project registry ({source}); move it away and `tdd-orchestrator projects add` your projects again",
        .path.display()
    )]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("neither XDG_DATA_HOME nor HOME is set: cannot place the project registry")]
    NoHome,
    #[error("{}: no project is registered there", .0.display())]
    NotRegistered(PathBuf),
}

/// One registered project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProjectEntry {
    /// Stable for the path: the first 12 hex digits of its hash.
    pub id: String,
    /// Absolute, canonical when it was registered.
    pub path: PathBuf,
    /// UTC, RFC 3339.
    pub added_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    projects: Vec<ProjectEntry>,
}

/// The registry file.
#[derive(Debug, Clone)]
pub struct Registry {
    path: PathBuf,
}

/// `$XDG_<kind>_HOME/tdd-orchestrator`, else `~/<fallback>/tdd-orchestrator`.
pub fn user_dir(xdg: &str, fallback: &str) -> Option<PathBuf> {
    let base = std::env::var_os(xdg)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(fallback))
        })?;
    Some(base.join("tdd-orchestrator"))
}

impl Registry {
    /// The user's registry.
    pub fn for_user() -> Result<Registry, RegistryError> {
        let dir = user_dir("XDG_DATA_HOME", ".local/share").ok_or(RegistryError::NoHome)?;
        Ok(Registry::at(dir.join("projects.json")))
    }

    pub fn at(path: impl Into<PathBuf>) -> Registry {
        Registry { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every registered project, in the order they were added.
    pub fn list(&self) -> Result<Vec<ProjectEntry>, RegistryError> {
        Ok(self.read()?.projects)
    }

    /// Registers `root` (made absolute); a project already there is left as
    /// it is. Returns its entry.
    pub fn add(&self, root: &Path) -> Result<ProjectEntry, RegistryError> {
        let path = fs::canonicalize(root).map_err(|source| RegistryError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        self.update(|file| {
            if let Some(found) = file.projects.iter().find(|p| p.path == path) {
                return Ok(found.clone());
            }
            let entry = ProjectEntry {
                id: project_id(&path),
                added_at: crate::breakers::rfc3339(crate::breakers::now()),
                path: path.clone(),
            };
            file.projects.push(entry.clone());
            Ok(entry)
        })
    }

    /// Removes the project registered at `root` (as given or canonical) or
    /// with that id.
    pub fn remove(&self, root_or_id: &str) -> Result<ProjectEntry, RegistryError> {
        let given = PathBuf::from(root_or_id);
        let canonical = fs::canonicalize(&given).ok();
        self.update(|file| {
            let position = file.projects.iter().position(|p| {
                p.id == root_or_id || p.path == given || Some(&p.path) == canonical.as_ref()
            });
            match position {
                Some(i) => Ok(file.projects.remove(i)),
                None => Err(RegistryError::NotRegistered(given.clone())),
            }
        })
    }

    fn read(&self) -> Result<File, RegistryError> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| RegistryError::Corrupt {
                path: self.path.clone(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
            Err(source) => Err(RegistryError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Read, change and write back under the lock.
    fn update<T>(
        &self,
        change: impl FnOnce(&mut File) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RegistryError::Io { path, source }
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = self.path.with_extension("lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        let _held = Flock::exclusive(&lock).map_err(io(&lock_path))?;
        let mut file = self.read()?;
        let result = change(&mut file)?;
        let tmp = self
            .path
            .with_extension(format!("tmp-{}", std::process::id()));
        let text = serde_json::to_vec_pretty(&file).expect("the registry serialises");
        let mut out = fs::File::create(&tmp).map_err(io(&tmp))?;
        out.write_all(&text)
            .and_then(|()| out.sync_all())
            .map_err(io(&tmp))?;
        fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        Ok(result)
    }
}

/// The id of a project path: stable, short, and safe in a URL.
pub fn project_id(path: &Path) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in path.as_os_str().as_encoded_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")[..12].to_string()
}

/// An advisory lock held until dropped.
struct Flock<'f>(&'f fs::File);

impl<'f> Flock<'f> {
    fn exclusive(file: &'f fs::File) -> std::io::Result<Flock<'f>> {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid descriptor, borrowed for the lock's lifetime.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Flock(file))
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: as above; unlocking a held lock.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_adds_keep_every_project() {
        let dir = std::env::temp_dir().join(format!("tdd-registry-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let registry = Registry::at(dir.join("data/projects.json"));
        let projects: Vec<PathBuf> = (0..8).map(|n| dir.join(format!("p{n}"))).collect();
        for p in &projects {
            fs::create_dir_all(p).unwrap();
        }
        std::thread::scope(|s| {
            for p in &projects {
                let registry = registry.clone();
                s.spawn(move || registry.add(p).unwrap());
            }
        });
        let listed = registry.list().unwrap();
        assert_eq!(listed.len(), 8);
        let again = registry.add(&projects[3]).unwrap();
        assert_eq!(registry.list().unwrap().len(), 8);
        assert_eq!(
            again.id,
            project_id(&fs::canonicalize(&projects[3]).unwrap())
        );
        let removed = registry.remove(&again.id).unwrap();
        assert_eq!(removed.path, again.path);
        assert!(matches!(
            registry.remove(&again.id),
            Err(RegistryError::NotRegistered(_))
        ));
        fs::write(registry.path(), "{ not json").unwrap();
        let err = registry.list().unwrap_err().to_string();
        assert!(err.contains("not a project registry"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
