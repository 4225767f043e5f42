//! The project on disk: its root, its `.tdd/` directory and configuration.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use tdd_core::config::{Config, Language, config_template, parse_config};
use tdd_core::text::{ColumnUnit, LineIndex};

pub const TDD_DIR: &str = ".tdd";
pub const CONFIG_FILE: &str = "config.toml";

/// `.tdd/` keeps everything but the config out of version control.
const GITIGNORE: &str = "# Written by tdd-orchestrator: keep only config.toml under version control.\n*\n!.gitignore\n!config.toml\n";

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}:{line}:{col}: {message}")]
    Config {
        path: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("{path} already exists; pass --force to overwrite it")]
    Exists { path: PathBuf },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ProjectError + '_ {
    move |source| ProjectError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The nearest ancestor of `start` (itself included) holding `.tdd/` or `.git`; else `start`.
pub fn find_root(start: &Path) -> PathBuf {
    start
        .ancestors()
        .find(|dir| dir.join(TDD_DIR).is_dir() || dir.join(".git").exists())
        .unwrap_or(start)
        .to_path_buf()
}

pub fn config_path(root: &Path) -> PathBuf {
    root.join(TDD_DIR).join(CONFIG_FILE)
}

/// Reads `.tdd/config.toml`; a missing file gives the defaults.
pub fn load_config(root: &Path) -> Result<Config, ProjectError> {
    let path = config_path(root);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(err) => return Err(ProjectError::Io { path, source: err }),
    };
    parse_config(&text).map_err(|err| {
        let offset = err.span.map_or(0, |s| s.start);
        let pos = LineIndex::new(&text).line_col(&text, offset, ColumnUnit::Char);
        ProjectError::Config {
            path,
            line: pos.line as usize + 1,
            col: pos.col as usize + 1,
            message: err.message,
        }
    })
}

/// Creates `.tdd/config.toml` and `.tdd/.gitignore`. Returns the files written.
pub fn init(root: &Path, language: Language, force: bool) -> Result<Vec<PathBuf>, ProjectError> {
    let dir = root.join(TDD_DIR);
    let config = config_path(root);
    if config.exists() && !force {
        return Err(ProjectError::Exists { path: config });
    }
    fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    let gitignore = dir.join(".gitignore");
    fs::write(&config, config_template(language)).map_err(io_error(&config))?;
    fs::write(&gitignore, GITIGNORE).map_err(io_error(&gitignore))?;
    Ok(vec![config, gitignore])
}

/// Reads a file, with an error that names it.
pub fn read_file(path: &Path) -> Result<Vec<u8>, ProjectError> {
    if path.is_dir() {
        let source = io::Error::new(io::ErrorKind::InvalidInput, "is a directory, not a file");
        return Err(ProjectError::Io {
            path: path.to_path_buf(),
            source,
        });
    }
    fs::read(path).map_err(io_error(path))
}

/// Writes a new file, refusing to overwrite unless `force`.
pub fn write_new(path: &Path, contents: &str, force: bool) -> Result<(), ProjectError> {
    if path.exists() && !force {
        return Err(ProjectError::Exists {
            path: path.to_path_buf(),
        });
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    fs::write(path, contents).map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tdd-engine-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn init_writes_and_refuses_to_overwrite() {
        let root = temp_dir("init");
        let written = init(&root, Language::Go, false).unwrap();
        assert_eq!(written.len(), 2);
        assert_eq!(load_config(&root).unwrap().project.language, Language::Go);
        assert!(matches!(
            init(&root, Language::Go, false),
            Err(ProjectError::Exists { .. })
        ));
        init(&root, Language::Rust, true).unwrap();
        assert_eq!(load_config(&root).unwrap().project.language, Language::Rust);
        assert_eq!(find_root(&root.join("nested/deeper")), root);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn config_errors_name_file_line_and_column() {
        let root = temp_dir("badconfig");
        fs::create_dir_all(root.join(TDD_DIR)).unwrap();
        fs::write(config_path(&root), "[project]\nlanguage = \"cobol\"\n").unwrap();
        let err = load_config(&root).unwrap_err().to_string();
        assert!(err.contains("config.toml:2:12"), "{err}");
        fs::remove_dir_all(&root).unwrap();
    }
}
