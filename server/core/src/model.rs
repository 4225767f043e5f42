//! The PRD model every format parses into. Each element keeps the span of the
//! text it came from, so every diagnostic can point at the exact source.

use crate::text::{Span, Spanned};

/// The source format of a PRD document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Markdown,
    Yaml,
    Json,
    /// The plain-text spec format of the earlier Python orchestrator.
    Legacy,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Markdown => "markdown",
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Legacy => "legacy",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prd {
    pub format: Format,
    pub meta: Meta,
    pub requirements: Vec<Requirement>,
    /// Criteria that belong to the document rather than to one requirement
    /// (legacy `AC-n` blocks that name no requirement).
    pub shared_criteria: Vec<Criterion>,
    pub nfrs: Vec<Nfr>,
    /// Where new requirements go (end of the requirements section); used by quick fixes.
    pub requirements_end: Option<usize>,
    /// Plan data only the legacy format carries.
    pub plan: Option<LegacyPlan>,
}

impl Prd {
    pub fn empty(format: Format) -> Self {
        Prd {
            format,
            meta: Meta::default(),
            requirements: Vec::new(),
            shared_criteria: Vec::new(),
            nfrs: Vec::new(),
            requirements_end: None,
            plan: None,
        }
    }

    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        self.requirements
            .iter()
            .find(|r| r.id.value.eq_ignore_ascii_case(id))
    }

    /// Every criterion with the requirement it belongs to (if any).
    pub fn criteria(&self) -> impl Iterator<Item = (Option<&Requirement>, &Criterion)> {
        let owned = self
            .requirements
            .iter()
            .flat_map(|r| r.criteria.iter().map(move |c| (Some(r), c)));
        owned.chain(self.shared_criteria.iter().map(|c| (None, c)))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    pub id: Option<Spanned<String>>,
    pub title: Option<Spanned<String>>,
    pub language: Option<Spanned<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub id: Spanned<String>,
    pub title: Spanned<String>,
    pub story: Option<Spanned<String>>,
    pub module: Option<Spanned<String>>,
    pub tests: Vec<Spanned<String>>,
    pub depends_on: Vec<Spanned<String>>,
    /// The whole `Depends on:` line, for quick fixes that rewrite it.
    pub depends_line: Option<Span>,
    pub criteria: Vec<Criterion>,
    /// The heading (or mapping) that introduces the requirement.
    pub header: Span,
    /// From the header to the last line that belongs to the requirement.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Criterion {
    /// `None` when the list item carries no id (reported, and fixable).
    pub id: Option<Spanned<String>>,
    pub text: Spanned<String>,
    /// The whole item.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nfr {
    pub id: Spanned<String>,
    pub text: Spanned<String>,
    pub span: Span,
}

/// The implementation plan of a legacy spec, kept for decomposition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LegacyPlan {
    pub phases: Vec<Phase>,
    pub cycles: Vec<Cycle>,
    pub module_structure: Option<ModuleStructure>,
    pub dependency_changes: Option<DependencyChanges>,
    pub module_api: Vec<ModuleApi>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phase {
    pub number: u32,
    pub title: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    pub number: u32,
    pub title: String,
    /// Number of the nearest preceding phase header.
    pub phase: Option<u32>,
    pub components: Vec<String>,
    /// `Tests: 8-10` → (8, 10); a single number gives (n, n).
    pub expected_tests: Option<(u32, u32)>,
    pub module_hint: Option<Spanned<String>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleStructure {
    pub base_path: Option<String>,
    pub files: Vec<String>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DependencyChanges {
    pub extra: Option<String>,
    pub packages: Vec<String>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleApi {
    pub path: String,
    pub exports: Vec<Export>,
    pub import_pattern: Option<String>,
    pub test_import: Option<String>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    pub name: String,
    pub kind: Option<String>,
    pub description: Option<String>,
}
