//! Pass 1: requirements → TDD cycles. A cycle is one requirement with its
//! criteria; criteria that belong to no requirement form a `SHARED` cycle.
//! A legacy spec's `TDD Cycle` blocks that mention a requirement lend it their
//! module hint, components and test estimate.

use crate::model::{Criterion, Cycle as LegacyCycle, Prd, Requirement};
use crate::parse::legacy::{fr_mentions, id_key};
use crate::text::{Span, Spanned};

pub(super) const SHARED: &str = "SHARED";

pub(super) struct Cycle<'a> {
    /// The requirement id, or `SHARED`.
    pub id: String,
    pub title: String,
    pub requirement: Option<&'a Requirement>,
    pub criteria: Vec<&'a Criterion>,
    pub module: Option<Spanned<String>>,
    pub tests: Vec<Spanned<String>>,
    pub components: Vec<String>,
    pub expected_tests: Option<(u32, u32)>,
    pub source: Span,
}

pub(super) fn cycles(prd: &Prd) -> Vec<Cycle<'_>> {
    let legacy: &[LegacyCycle] = prd.plan.as_ref().map_or(&[], |p| &p.cycles);
    let mut out: Vec<Cycle<'_>> = prd
        .requirements
        .iter()
        .map(|req| {
            let hint = legacy_cycle_for(legacy, &req.id.value);
            Cycle {
                id: req.id.value.clone(),
                title: req.title.value.clone(),
                requirement: Some(req),
                criteria: req.criteria.iter().collect(),
                module: req
                    .module
                    .clone()
                    .or_else(|| hint.and_then(|c| c.module_hint.clone())),
                tests: req.tests.clone(),
                components: hint.map(|c| c.components.clone()).unwrap_or_default(),
                expected_tests: hint.and_then(|c| c.expected_tests),
                source: req.header,
            }
        })
        .collect();
    if !prd.shared_criteria.is_empty() {
        out.push(Cycle {
            id: SHARED.to_string(),
            title: "Acceptance criteria of the whole document".to_string(),
            requirement: None,
            criteria: prd.shared_criteria.iter().collect(),
            module: None,
            tests: Vec::new(),
            components: Vec::new(),
            expected_tests: None,
            source: prd.shared_criteria[0].span,
        });
    }
    out
}

/// The first legacy TDD cycle whose title or components mention `id`.
fn legacy_cycle_for<'a>(cycles: &'a [LegacyCycle], id: &str) -> Option<&'a LegacyCycle> {
    let key = id_key(id);
    let mentions = |text: &str| fr_mentions(text).iter().any(|(_, m)| id_key(m) == key);
    cycles
        .iter()
        .find(|c| mentions(&c.title) || c.components.iter().any(|comp| mentions(comp)))
}
