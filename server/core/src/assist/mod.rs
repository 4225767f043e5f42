//! Model-assisted decomposition, the pure half: what a model is asked for,
//! what it must answer (JSON Schemas generated from the types below), how
//! its reply text is repaired into JSON, and how the answer is validated
//! with the same rules as any PRD. The engine does the HTTP calls.
//!
//! Two steps, so each call carries only the text it needs:
//!
//! 1. the document, split into numbered blocks (`source`), goes to the
//!    model once; it answers a [`RequirementList`]: ids, titles,
//!    dependencies and, for each requirement, the blocks it comes from;
//! 2. per requirement, only its blocks (and the list of all requirement ids
//!    and titles) go to the model; it answers a [`RequirementDetail`]: the
//!    criteria and files.
//!
//! The answers together make a [`PrdOutline`], rendered as a Markdown PRD
//! (`render`) that is parsed and decomposed like any other (`check`).

pub mod check;
pub mod prompt;
pub mod render;
pub mod repair;
pub mod source;

use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A structured PRD as a model supplies it (`schemas/prd-outline.schema.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "tdd-orchestrator PRD outline")]
pub struct PrdOutline {
    /// The product's or feature's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[schemars(length(min = 1))]
    pub requirements: Vec<OutlineRequirement>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutlineRequirement {
    /// `REQ-1`, `REQ-2`, … in document order.
    #[schemars(regex(pattern = r"^REQ-[1-9][0-9]*$"))]
    pub id: String,
    /// A short name: what the requirement delivers.
    #[schemars(length(min = 1, max = 120))]
    pub title: String,
    /// One or two sentences on the behaviour, in the document's words.
    pub description: String,
    /// Ids of requirements that must be done first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// The implementation file, relative to the project root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Test files, relative to the project root; no two requirements share one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<String>,
    #[schemars(length(min = 1))]
    pub criteria: Vec<OutlineCriterion>,
    /// Where in the source document the requirement comes from (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutlineCriterion {
    /// `AC-<n>.<k>` for requirement `REQ-<n>`: `AC-2.1`, `AC-2.2`, …
    #[schemars(regex(pattern = r"^AC-[1-9][0-9]*\.[1-9][0-9]*$"))]
    pub id: String,
    /// EARS preferred: `WHEN <trigger> THE SYSTEM SHALL <response>`,
    /// `IF <condition> THEN THE SYSTEM SHALL <response>`; name error codes in
    /// backticks.
    #[schemars(length(min = 1))]
    pub text: String,
}

/// Step 1's answer: the requirements, without criteria.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "tdd-orchestrator requirement list")]
pub struct RequirementList {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[schemars(length(min = 1))]
    pub requirements: Vec<ListedRequirement>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListedRequirement {
    #[schemars(regex(pattern = r"^REQ-[1-9][0-9]*$"))]
    pub id: String,
    #[schemars(length(min = 1, max = 120))]
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Ids of the numbered blocks of the document the requirement comes
    /// from (`S3`, `S4`): only these are shown when its criteria are asked for.
    #[schemars(length(min = 1))]
    pub sources: Vec<String>,
}

/// Step 2's answer for one requirement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "tdd-orchestrator requirement detail")]
pub struct RequirementDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<String>,
    #[schemars(length(min = 1))]
    pub criteria: Vec<OutlineCriterion>,
}

/// The outline schema as pretty JSON, as checked in under `schemas/`.
pub fn outline_schema_json() -> String {
    crate::schema::pretty(schemars::schema_for!(PrdOutline))
}

/// The two step schemas, as sent to the model.
pub fn list_schema() -> serde_json::Value {
    schema_value(schemars::schema_for!(RequirementList))
}

pub fn detail_schema() -> serde_json::Value {
    schema_value(schemars::schema_for!(RequirementDetail))
}

/// Without `$schema`: some providers refuse meta keys in tool schemas.
fn schema_value(schema: schemars::Schema) -> serde_json::Value {
    let mut value = serde_json::to_value(schema).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.remove("$schema");
    }
    value
}

fn compile(schema: serde_json::Value) -> jsonschema::Validator {
    jsonschema::validator_for(&schema).expect("the generated outline schemas compile")
}

pub(crate) fn list_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| compile(list_schema()))
}

pub(crate) fn detail_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| compile(detail_schema()))
}

pub fn outline_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| compile(schema_value(schemars::schema_for!(PrdOutline))))
}
