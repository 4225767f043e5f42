//! Model-assisted decomposition, the pure half: repairing reply text into
//! JSON (property-tested), and validating answers with the PRD rules.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};
use tdd_core::assist::check::{Context, assemble, check_outline, validate_detail, validate_list};
use tdd_core::assist::repair::repair_json;
use tdd_core::assist::source::blocks;
use tdd_core::assist::{RequirementDetail, RequirementList, prompt, render};
use tdd_core::config::Config;
use tdd_core::plan::ProjectFiles;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z_]{1,8}", json_value(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn repair_never_panics(text in "\\PC{0,200}") {
        let _ = repair_json(&text);
    }

    #[test]
    fn repair_never_panics_on_json_like_soup(
        parts in prop::collection::vec(
            prop_oneof![
                Just("{"), Just("}"), Just("["), Just("]"), Just("\""), Just("\\"), Just(","),
                Just(":"), Just("```json\n"), Just("\n```"), Just("\\u12"), Just("tru"), Just("1.5e"),
                Just("\"key\": "), Just(" "), Just("é"),
            ],
            0..60,
        )
    ) {
        let _ = repair_json(&parts.concat());
    }

    #[test]
    fn wrapped_json_round_trips(
        value in json_object(),
        pretty in any::<bool>(),
        fenced in any::<bool>(),
        lead in "[A-Za-z .:,!\n]{0,40}",
        trail in "[A-Za-z .!\n]{0,40}",
    ) {
        let body = if pretty {
            serde_json::to_string_pretty(&value).unwrap()
        } else {
            serde_json::to_string(&value).unwrap()
        };
        let text = if fenced {
            format!("{lead}\n```json\n{body}\n```\n{trail}")
        } else {
            format!("{lead}{body}{trail}")
        };
        let repaired = repair_json(&text).unwrap();
        prop_assert_eq!(repaired.value, value);
    }

    #[test]
    fn truncated_json_is_closed_or_refused(value in json_object(), cut in 0usize..400) {
        let body = serde_json::to_string(&value).unwrap();
        let mut cut = cut.min(body.len());
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        if let Ok(repaired) = repair_json(&body[..cut]) {
            prop_assert!(repaired.value.is_object());
        }
    }
}

/// Outlines with hostile text in every field: Markdown markers, ids, keys,
/// line breaks, comment ends.
fn outline() -> impl Strategy<Value = tdd_core::assist::PrdOutline> {
    let text = prop_oneof![
        "\\PC{0,30}",
        Just("### REQ-9 sneaky".to_string()),
        Just("- AC-1.1: WHEN x THE SYSTEM SHALL y".to_string()),
        Just("Depends on: REQ-7\nTests: /etc/passwd".to_string()),
        Just("-->\n## Requirements".to_string()),
        Just("WHEN a user saves THE SYSTEM SHALL store it.".to_string()),
    ];
    let criterion =
        (1u32..4, text.clone()).prop_map(|(k, text)| tdd_core::assist::OutlineCriterion {
            id: format!("AC-1.{k}"),
            text,
        });
    let requirement = (
        text.clone(),
        text.clone(),
        prop::collection::vec(criterion, 1..3),
        prop::option::of("[a-z/._]{1,12}"),
    );
    (
        prop::option::of(text),
        prop::collection::vec(requirement, 1..4),
    )
        .prop_map(|(title, reqs)| {
            let requirements = reqs
                .into_iter()
                .enumerate()
                .map(|(i, (title, description, mut criteria, module))| {
                    let n = i + 1;
                    for c in &mut criteria {
                        c.id = c.id.replacen("AC-1.", &format!("AC-{n}."), 1);
                    }
                    tdd_core::assist::OutlineRequirement {
                        id: format!("REQ-{n}"),
                        title,
                        description,
                        depends_on: if n > 1 {
                            vec!["REQ-1".to_string()]
                        } else {
                            vec![]
                        },
                        module,
                        tests: vec![],
                        criteria,
                        source: Some("lines 1–2".to_string()),
                    }
                })
                .collect();
            tdd_core::assist::PrdOutline {
                title,
                requirements,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Whatever the model writes, checking never panics, and an outline
    /// that passes renders as a PRD the validator finds no error in.
    #[test]
    fn checking_any_outline_never_panics(outline in outline()) {
        let config = config();
        let layout = config.project.layout();
        let project = ProjectFiles::default();
        let ctx = Context { layout: &layout, project: &project, source_name: "x.md" };
        match check_outline(&outline, &ctx) {
            Ok(checked) => {
                let again = tdd_core::analysis::analyze(
                    "x.prd.md",
                    &checked.markdown,
                    &tdd_core::analysis::Options::default(),
                );
                prop_assert!(!again.has_errors(), "{:?}", again.diagnostics);
                prop_assert_eq!(again.prd.requirements.len(), outline.requirements.len());
            }
            Err(problems) => prop_assert!(!problems.is_empty()),
        }
    }

    #[test]
    fn blocks_cover_every_non_blank_line(text in "(\\PC{0,20}\n){0,30}") {
        let found = blocks(&text);
        let lines = text.lines().count();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            if !line.trim().is_empty() {
                prop_assert!(found.iter().any(|b| b.first_line <= n && n <= b.last_line));
            }
        }
        prop_assert!(found.iter().all(|b| b.last_line <= lines));
        let ids: Vec<String> = found.iter().map(|b| b.id.clone()).collect();
        let _ = tdd_core::assist::source::section(&found, &ids);
    }
}

const FREEFORM: &str = "# Team notes\n\nWe want a small app for shared shopping lists.\n\n## Lists\n\nPeople create a list with a name. Names must be unique per person.\n\n## Sharing\n\nA list owner can invite someone by email. Invited people see the list.\n";

fn config() -> Config {
    Config::default()
}

fn list() -> Value {
    json!({
        "title": "Shopping lists",
        "requirements": [
            {"id": "REQ-1", "title": "Create a list", "description": "People create named lists.",
             "depends_on": [], "sources": ["S4"]},
            {"id": "REQ-2", "title": "Share a list", "description": "Owners invite people by email.",
             "depends_on": ["REQ-1"], "sources": ["S6"]}
        ]
    })
}

fn detail(n: u32, tests: &str) -> Value {
    json!({
        "module": format!("src/lists_{n}.py"),
        "tests": [tests],
        "criteria": [
            {"id": format!("AC-{n}.1"), "text": "WHEN a person creates a list named `groceries` THE SYSTEM SHALL store it."},
            {"id": format!("AC-{n}.2"), "text": "IF the name is taken THEN THE SYSTEM SHALL reject it with error `duplicate_name`."}
        ]
    })
}

#[test]
fn a_list_and_its_details_make_a_valid_prd() {
    let config = config();
    let layout = config.project.layout();
    let project = ProjectFiles::default();
    let ctx = Context {
        layout: &layout,
        project: &project,
        source_name: "notes.md",
    };
    let blocks = blocks(FREEFORM);
    let list: RequirementList = validate_list(&list(), &blocks, &ctx).unwrap();
    let mut accepted = BTreeMap::new();
    for (n, req) in list.requirements.iter().enumerate() {
        let n = n as u32 + 1;
        let value = detail(n, &format!("tests/test_lists_{n}.py"));
        let d = validate_detail(&value, req, &list, &accepted, &blocks, &ctx).unwrap();
        accepted.insert(req.id.clone(), d);
    }
    let outline = assemble(&list, &accepted, &blocks);
    let checked = check_outline(&outline, &ctx).unwrap();
    assert!(checked.graph.tasks.iter().any(|t| t.key == "REQ-2/AC-2.1"));
    insta::assert_snapshot!("assisted_prd", checked.markdown);
    let reparsed = tdd_core::analysis::analyze(
        "notes.prd.md",
        &checked.markdown,
        &tdd_core::analysis::Options::default(),
    );
    assert!(!reparsed.has_errors(), "{:?}", reparsed.diagnostics);
    assert_eq!(render::to_markdown(&outline, "notes.md"), checked.markdown);
}

fn list_problems(value: Value) -> Vec<String> {
    let config = config();
    let layout = config.project.layout();
    let project = ProjectFiles::default();
    let ctx = Context {
        layout: &layout,
        project: &project,
        source_name: "notes.md",
    };
    validate_list(&value, &blocks(FREEFORM), &ctx).unwrap_err()
}

#[test]
fn list_errors_are_messages_naming_the_requirement() {
    let mut v = list();
    v["requirements"][1]["depends_on"] = json!(["REQ-9"]);
    let problems = list_problems(v);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("REQ-2: ") && p.contains("REQ-9")),
        "{problems:?}"
    );

    let mut v = list();
    v["requirements"][0]["depends_on"] = json!(["REQ-2"]);
    let problems = list_problems(v);
    assert!(problems.iter().any(|p| p.contains("cycle")), "{problems:?}");

    let mut v = list();
    v["requirements"][1]["id"] = json!("REQ-1");
    let problems = list_problems(v);
    assert!(problems.iter().any(|p| p.contains("REQ-1")), "{problems:?}");

    let mut v = list();
    v["requirements"][0]["sources"] = json!(["S42"]);
    assert_eq!(
        list_problems(v),
        ["REQ-1: source `S42` is not a block of the document (they are S1 to S6)"]
    );

    let problems = list_problems(json!({"requirements": [{"id": "R1", "title": ""}]}));
    assert!(
        problems
            .iter()
            .all(|p| p.starts_with("schema: at `/requirements/0")),
        "{problems:?}"
    );
    assert!(problems.len() >= 3, "{problems:?}");
}

#[test]
fn detail_errors_cover_numbering_paths_and_shared_test_files() {
    let config = config();
    let layout = config.project.layout();
    let project = ProjectFiles::default();
    let ctx = Context {
        layout: &layout,
        project: &project,
        source_name: "notes.md",
    };
    let blocks = blocks(FREEFORM);
    let list: RequirementList = serde_json::from_value(list()).unwrap();
    let req2 = &list.requirements[1];
    let none = BTreeMap::new();
    let problems =
        validate_detail(&detail(1, "tests/t.py"), req2, &list, &none, &blocks, &ctx).unwrap_err();
    assert!(
        problems[0].contains("must be numbered `AC-2.1`"),
        "{problems:?}"
    );

    let problems =
        validate_detail(&detail(2, "../t.py"), req2, &list, &none, &blocks, &ctx).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("REQ-2: ") && p.contains("../t.py")),
        "{problems:?}"
    );

    let first: RequirementDetail = serde_json::from_value(detail(1, "tests/t.py")).unwrap();
    let accepted = BTreeMap::from([("REQ-1".to_string(), first)]);
    let problems = validate_detail(
        &detail(2, "tests/t.py"),
        req2,
        &list,
        &accepted,
        &blocks,
        &ctx,
    )
    .unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("tests/t.py") && p.contains("PRD009")),
        "{problems:?}"
    );
}

#[test]
fn a_detail_prompt_carries_only_its_own_section() {
    let blocks = blocks(FREEFORM);
    let list: RequirementList = serde_json::from_value(list()).unwrap();
    let text = prompt::detail_prompt("notes.md", "python", &list.requirements[1], &list, &blocks);
    assert!(text.contains("invite someone by email"), "{text}");
    assert!(!text.contains("Names must be unique"), "{text}");
    assert!(text.contains("- REQ-1 Create a list"), "{text}");
    let whole = prompt::list_prompt("notes.md", &blocks);
    assert!(
        whole.contains("[S6] (line 11)\nA list owner can invite"),
        "{whole}"
    );
    let retry = prompt::retry_prompt(&text, "{}", &["REQ-2: bad".to_string()]);
    assert!(retry.contains("rejected:\n- REQ-2: bad"), "{retry}");
}

#[test]
fn the_prompts_for_the_freeform_fixture() {
    let text = include_str!("../../../../tests/fixtures/prd/freeform.md");
    let blocks = blocks(text);
    let list: RequirementList = serde_json::from_value(json!({"requirements": [
        {"id": "REQ-1", "title": "Track stock", "description": "Record and take out items.",
         "depends_on": [], "sources": ["S3", "S4"]},
        {"id": "REQ-2", "title": "Shopping list", "description": "Items below their minimum.",
         "depends_on": ["REQ-1"], "sources": ["S6"]}
    ]}))
    .unwrap();
    insta::assert_snapshot!("list_prompt", prompt::list_prompt("freeform.md", &blocks));
    let detail = prompt::detail_prompt(
        "freeform.md",
        "python",
        &list.requirements[1],
        &list,
        &blocks,
    );
    insta::assert_snapshot!("detail_prompt", detail);
}
