//! Client settings from `initializationOptions` or `workspace/didChangeConfiguration`.
//! Unknown keys are logged and ignored; bad values fall back to the default
//! and are reported to the user.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde_json::Value;
use tdd_core::config::default_globs;

#[derive(Clone, Debug)]
pub struct Settings {
    pub prd_globs: Vec<String>,
    pub max_file_kib: u32,
    /// The client wants the `tdd/` panel notifications.
    pub panel: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            prd_globs: default_globs(),
            max_file_kib: 2048,
            panel: false,
        }
    }
}

/// Settings plus the problems found reading them: (unknown keys, bad values).
pub struct Parsed {
    pub settings: Settings,
    pub unknown: Vec<String>,
    pub invalid: Vec<String>,
}

/// Reads settings over `base`. Accepts the options flat or nested under
/// `tddOrchestrator` (the shape VS Code sends for a settings section).
pub fn parse(value: &Value, base: &Settings) -> Parsed {
    let mut parsed = Parsed {
        settings: base.clone(),
        unknown: Vec::new(),
        invalid: Vec::new(),
    };
    let object = value.get("tddOrchestrator").unwrap_or(value);
    let Some(map) = object.as_object() else {
        if !object.is_null() {
            parsed
                .invalid
                .push("settings must be a JSON object".to_string());
        }
        return parsed;
    };
    for (key, value) in map {
        match key.as_str() {
            "prdGlobs" => match globs(value) {
                Ok(globs) => parsed.settings.prd_globs = globs,
                Err(why) => parsed
                    .invalid
                    .push(format!("prdGlobs: {why}; using the default globs")),
            },
            "maxFileKib" => match value.as_u64().filter(|n| (1..=1_048_576).contains(n)) {
                Some(n) => parsed.settings.max_file_kib = n as u32,
                None => parsed.invalid.push(format!(
                    "maxFileKib: expected a whole number from 1 to 1048576, got {value}; using {}",
                    base.max_file_kib
                )),
            },
            "panel" => match value.as_bool() {
                Some(b) => parsed.settings.panel = b,
                None => parsed
                    .invalid
                    .push(format!("panel: expected true or false, got {value}")),
            },
            // Read by the client or the launcher, not by the server.
            "logLevel" | "serverPath" | "trace" => {}
            other => parsed.unknown.push(other.to_string()),
        }
    }
    parsed
}

fn globs(value: &Value) -> Result<Vec<String>, String> {
    let items = value
        .as_array()
        .ok_or_else(|| format!("expected a list of glob strings, got {value}"))?;
    let mut out = Vec::new();
    for item in items {
        let glob = item
            .as_str()
            .ok_or_else(|| format!("expected a string, got {item}"))?;
        Glob::new(glob).map_err(|e| format!("`{glob}` is not a valid glob ({e})"))?;
        out.push(glob.to_string());
    }
    Ok(out)
}

/// Decides which files are PRDs: configured globs relative to the workspace
/// root, or PRD front matter in the text.
#[derive(Clone, Debug)]
pub struct PrdMatcher {
    root: Option<PathBuf>,
    set: GlobSet,
}

impl PrdMatcher {
    pub fn new(root: Option<PathBuf>, globs: &[String]) -> Self {
        let mut builder = GlobSetBuilder::new();
        for glob in globs {
            // Already validated in `parse`; the config file's globs may still be bad.
            if let Ok(glob) = Glob::new(glob) {
                builder.add(glob);
            } else {
                tracing::warn!(glob, "ignoring an invalid PRD glob");
            }
        }
        let set = builder.build().unwrap_or_else(|_| GlobSet::empty());
        PrdMatcher { root, set }
    }

    pub fn is_prd(&self, path: Option<&Path>, text: &str) -> bool {
        if let Some(path) = path {
            let relative = self
                .root
                .as_deref()
                .and_then(|root| path.strip_prefix(root).ok());
            // The engine's worktrees (`.tdd/worktrees/…`) hold copies of every
            // PRD; reporting on them would list each problem once per task.
            let internal = relative.is_some_and(|rel| {
                rel.components()
                    .next()
                    .is_some_and(|c| c.as_os_str() == ".tdd" || c.as_os_str() == ".git")
            });
            if internal {
                return false;
            }
            let candidate = relative.unwrap_or(path);
            if self.set.is_match(candidate)
                || path
                    .file_name()
                    .is_some_and(|name| self.set.is_match(Path::new(name)))
            {
                return true;
            }
        }
        tdd_core::analysis::has_prd_front_matter(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn copies_in_the_engines_worktrees_are_not_prds() {
        let matcher = PrdMatcher::new(Some(PathBuf::from("/p")), &["**/*.prd.md".to_string()]);
        let prd = "# A\n";
        assert!(matcher.is_prd(Some(Path::new("/p/docs/a.prd.md")), prd));
        assert!(!matcher.is_prd(
            Some(Path::new(
                "/p/.tdd/worktrees/REQ-1-AC-1.1-f439/docs/a.prd.md"
            )),
            prd
        ));
        assert!(!matcher.is_prd(Some(Path::new("/p/.git/a.prd.md")), prd));
    }

    #[test]
    fn reads_known_keys_and_reports_the_rest() {
        let parsed = parse(
            &json!({"prdGlobs": ["specs/**"], "maxFileKib": "big", "colour": 1}),
            &Settings::default(),
        );
        assert_eq!(parsed.settings.prd_globs, ["specs/**"]);
        assert_eq!(parsed.settings.max_file_kib, 2048);
        assert_eq!(parsed.unknown, ["colour"]);
        assert_eq!(parsed.invalid.len(), 1);
    }

    #[test]
    fn matches_globs_and_front_matter() {
        let m = PrdMatcher::new(Some(PathBuf::from("/w")), &default_globs());
        assert!(m.is_prd(Some(Path::new("/w/docs/prd/loans.md")), ""));
        assert!(m.is_prd(Some(Path::new("/w/a/b/loans.prd.md")), ""));
        assert!(m.is_prd(Some(Path::new("/w/api_spec.txt")), ""));
        assert!(!m.is_prd(Some(Path::new("/w/README.md")), "# Readme"));
        assert!(m.is_prd(Some(Path::new("/w/README.md")), "---\ntype: prd\n---\n"));
    }
}
