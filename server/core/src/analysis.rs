//! The one entry point the CLI and the language server share: bytes or text
//! in, model and sorted diagnostics out.

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::model::{Format, Prd};
use crate::parse::{legacy, markdown, structured};
use crate::rules;
use crate::text::Span;

/// Files above this size are reported, not parsed (a PRD is rarely over 100 KB).
pub const DEFAULT_MAX_BYTES: usize = 2 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct Options {
    pub max_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Analysis {
    pub prd: Prd,
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// The format a file is read as, from its name (and, for Markdown and text,
/// its content: the legacy format also lives in `.md` and `.txt` files).
pub fn detect_format(path: &str, text: &str) -> Format {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        Format::Yaml
    } else if lower.ends_with(".json") {
        Format::Json
    } else if lower.ends_with(".txt")
        || (!has_markdown_requirements(text) && legacy::looks_like_legacy(text))
    {
        Format::Legacy
    } else {
        Format::Markdown
    }
}

fn has_markdown_requirements(text: &str) -> bool {
    text.lines().any(|l| {
        l.starts_with('#') && crate::ids::scan_id(l.trim_start_matches(['#', ' '])).is_some()
    })
}

/// True when a Markdown file starts with PRD front matter: `type: prd`, or an
/// `id` that starts with `PRD-`. Such files are PRDs whatever their name.
pub fn has_prd_front_matter(text: &str) -> bool {
    let Some((inner, _)) = markdown::front_matter_block(text) else {
        return false;
    };
    inner.slice(text).lines().any(|line| {
        let (key, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.trim().trim_matches(['"', '\'']).to_ascii_lowercase();
        match key.trim() {
            "type" | "kind" => value == "prd",
            "id" => value.starts_with("prd-"),
            _ => false,
        }
    })
}

pub fn analyze_bytes(path: &str, bytes: &[u8], options: &Options) -> Analysis {
    if let Some(too_large) = size_check(bytes.len(), options) {
        return too_large;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => analyze(path, text, options),
        Err(err) => {
            let at = err.valid_up_to();
            let valid = std::str::from_utf8(&bytes[..at]).unwrap_or("");
            let line = valid.matches('\n').count() + 1;
            let col = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let message = format!(
                "the file is not valid UTF-8 (byte {at}, line {line}, column {col}): save it as UTF-8 and validate again"
            );
            Analysis {
                prd: Prd::empty(Format::Markdown),
                diagnostics: vec![Diagnostic::new(
                    Code::InvalidEncoding,
                    Span::empty(at),
                    message,
                )],
            }
        }
    }
}

/// Validates `text`. A bug in a parser or rule is contained: the document
/// gets one `PRD099` diagnostic instead of the process dying.
pub fn analyze(path: &str, text: &str, options: &Options) -> Analysis {
    if let Some(too_large) = size_check(text.len(), options) {
        return too_large;
    }
    std::panic::catch_unwind(|| analyze_unguarded(path, text)).unwrap_or_else(|_| Analysis {
        prd: Prd::empty(Format::Markdown),
        diagnostics: vec![Diagnostic::new(
            Code::InternalError,
            Span::empty(0),
            "internal error while validating this file: please report it with the file attached",
        )],
    })
}

fn analyze_unguarded(path: &str, text: &str) -> Analysis {
    let format = detect_format(path, text);
    let (prd, mut diagnostics) = match format {
        Format::Markdown => markdown::parse(text),
        Format::Legacy => legacy::parse(text),
        Format::Yaml | Format::Json => structured::parse(text, format),
    };
    let unreadable = matches!(format, Format::Yaml | Format::Json)
        && diagnostics.iter().any(|d| {
            d.code == Code::SyntaxError
                || (d.code == Code::SchemaViolation && prd.requirements.is_empty())
        });
    if !unreadable {
        diagnostics.extend(rules::check(&prd, text));
    }
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end, d.code));
    Analysis { prd, diagnostics }
}

fn size_check(len: usize, options: &Options) -> Option<Analysis> {
    (len > options.max_bytes).then(|| Analysis {
        prd: Prd::empty(Format::Markdown),
        diagnostics: vec![Diagnostic::new(
            Code::FileTooLarge,
            Span::empty(0),
            format!(
                "the file is {} KiB, over the {} KiB limit for validation: split the PRD, or raise `max_file_kib` in the settings",
                len / 1024,
                options.max_bytes / 1024
            ),
        )],
    })
}
