//! Diagnostics with stable codes. Fixes are plain text edits computed here, so
//! the CLI, the language server and tests all apply the same edits.

use crate::text::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $name:literal, $severity:ident;)*) => {
        /// Stable diagnostic codes; documented in docs/diagnostics.md. Never reuse a number.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $($variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// `PRD001` …
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// A short kebab-case name, e.g. `duplicate-id`.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }
        }
    };
}

codes! {
    NoRequirements = "PRD001", "no-requirements", Error;
    DuplicateId = "PRD002", "duplicate-id", Error;
    MissingCriteria = "PRD003", "missing-acceptance-criteria", Error;
    UntestableCriterion = "PRD004", "untestable-criterion", Warning;
    VagueWording = "PRD005", "vague-wording", Warning;
    UnknownDependency = "PRD006", "unknown-dependency", Error;
    DependencyCycle = "PRD007", "dependency-cycle", Error;
    UnsafePath = "PRD008", "unsafe-path", Error;
    SharedTestFile = "PRD009", "shared-test-file", Error;
    UnmeasurableNfr = "PRD010", "unmeasurable-nfr", Warning;
    SyntaxError = "PRD011", "syntax-error", Error;
    SchemaViolation = "PRD012", "schema-violation", Error;
    FileTooLarge = "PRD013", "file-too-large", Error;
    InvalidEncoding = "PRD014", "invalid-encoding", Error;
    MissingId = "PRD015", "missing-id", Warning;
    InternalError = "PRD099", "internal-error", Error;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Related {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub span: Span,
    pub new_text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    pub title: String,
    pub edits: Vec<Edit>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub span: Span,
    pub message: String,
    pub related: Vec<Related>,
    pub fixes: Vec<Fix>,
}

impl Diagnostic {
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            span,
            message: message.into(),
            related: Vec::new(),
            fixes: Vec::new(),
        }
    }

    pub fn with_related(mut self, span: Span, message: impl Into<String>) -> Self {
        self.related.push(Related {
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_fix(mut self, title: impl Into<String>, edits: Vec<Edit>) -> Self {
        self.fixes.push(Fix {
            title: title.into(),
            edits,
        });
        self
    }
}

/// Apply non-overlapping edits to `text`. Edits are applied from the end so
/// earlier spans stay valid; overlapping or out-of-range edits are skipped.
pub fn apply_edits(text: &str, edits: &[Edit]) -> String {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| std::cmp::Reverse((e.span.start, e.span.end)));
    let mut out = text.to_string();
    let mut limit = usize::MAX;
    for edit in sorted {
        let Span { start, end } = edit.span;
        let valid = start <= end && end <= out.len() && end <= limit;
        if valid && out.is_char_boundary(start) && out.is_char_boundary(end) {
            out.replace_range(start..end, &edit.new_text);
            limit = start;
        }
    }
    out
}
