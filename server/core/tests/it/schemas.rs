//! The checked-in JSON Schemas must equal the ones generated from the Rust
//! types. After changing the types, regenerate with
//! `UPDATE_SCHEMAS=1 cargo test -p tdd-core --test it schemas::`.

fn check(file: &str, generated: String) {
    tdd_test_support::check_generated(
        &format!("schemas/{file}"),
        &generated,
        "cargo test -p tdd-core --test it schemas::",
    );
}

#[test]
fn prd_schema_is_current() {
    check("prd.schema.json", tdd_core::schema::prd_schema_json());
}

#[test]
fn config_schema_is_current() {
    check("config.schema.json", tdd_core::config::config_schema_json());
}

#[test]
fn tasks_schema_is_current() {
    check("tasks.schema.json", tdd_core::plan::tasks_schema_json());
}

#[test]
fn the_schema_accepts_a_complete_document_and_rejects_a_broken_one() {
    let validator = tdd_core::schema::prd_validator();
    let good = serde_json::json!({
        "title": "Loans",
        "requirements": [{
            "id": "REQ-1", "title": "Borrow", "tests": ["tests/test_loans.py"], "depends_on": [],
            "acceptance_criteria": [{"id": "AC-1.1", "text": "WHEN x THE SYSTEM SHALL y"}]
        }],
        "non_functional": [{"id": "NFR-1", "text": "within 200 ms"}]
    });
    assert!(validator.is_valid(&good));
    let bad = serde_json::json!({"requirements": [{"id": "not an id", "title": ""}], "extra": 1});
    assert!(validator.iter_errors(&bad).count() >= 3);
}

#[test]
fn outline_schema_is_current() {
    check(
        "prd-outline.schema.json",
        tdd_core::assist::outline_schema_json(),
    );
}
