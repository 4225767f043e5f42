//! The YAML/JSON form of a PRD as serde types. `schemas/prd.schema.json` is
//! generated from these (a test fails when the checked-in file drifts), and the
//! same generated schema validates documents at run time.

use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A product requirements document in its YAML or JSON form.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "tdd-orchestrator PRD")]
pub struct PrdDocument {
    /// Optional reference to this schema, for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// A stable identifier for the PRD, e.g. `PRD-LOANS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The implementation language of the project (python, rust, typescript, go, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub requirements: Vec<RequirementDoc>,
    /// Criteria that belong to the document as a whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acceptance_criteria: Vec<CriterionDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub non_functional: Vec<NfrDoc>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequirementDoc {
    #[schemars(regex(pattern = r"^[A-Za-z]{1,12}(-[A-Za-z0-9]+)+(\.[A-Za-z0-9]+)*$"))]
    pub id: String,
    #[schemars(length(min = 1))]
    pub title: String,
    /// "As a …, I want … so that …".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story: Option<String>,
    /// The implementation file, relative to the project root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Test files, relative to the project root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<String>,
    /// Ids of requirements that must be done first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acceptance_criteria: Vec<CriterionDoc>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CriterionDoc {
    #[schemars(regex(pattern = r"^[A-Za-z]{1,12}(-[A-Za-z0-9]+)+(\.[A-Za-z0-9]+)*$"))]
    pub id: String,
    /// EARS (`WHEN … THE SYSTEM SHALL …`) or Given/When/Then.
    #[schemars(length(min = 1))]
    pub text: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NfrDoc {
    #[schemars(regex(pattern = r"^[A-Za-z]{1,12}(-[A-Za-z0-9]+)+(\.[A-Za-z0-9]+)*$"))]
    pub id: String,
    /// Must carry a measurable target: a number with a unit.
    #[schemars(length(min = 1))]
    pub text: String,
}

/// The PRD schema as pretty JSON, exactly as checked in under `schemas/`.
pub fn prd_schema_json() -> String {
    pretty(schemars::schema_for!(PrdDocument))
}

pub fn pretty(schema: schemars::Schema) -> String {
    serde_json::to_string_pretty(&schema).expect("a schema serialises") + "\n"
}

/// The compiled PRD schema, built once.
pub fn prd_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema =
            serde_json::to_value(schemars::schema_for!(PrdDocument)).expect("a schema serialises");
        jsonschema::validator_for(&schema).expect("the generated PRD schema compiles")
    })
}
