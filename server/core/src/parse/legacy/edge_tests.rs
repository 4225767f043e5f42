//! Edge cases of the legacy parser: CRLF, bold, garbage, huge input, attachment and plan variants.

use super::tests::{FIXTURE, assert_spans, ids_of};
use super::*;
use crate::diagnostic::Code;

#[test]
fn crlf_gives_the_same_model_with_exact_spans() {
    let crlf = FIXTURE.replace('\n', "\r\n");
    let (lf_prd, _) = parse(FIXTURE);
    let (prd, diags) = parse(&crlf);
    assert!(diags.is_empty());
    let texts = |p: &Prd| -> Vec<String> {
        p.criteria()
            .map(|(_, c)| c.text.value.clone())
            .chain(p.nfrs.iter().map(|n| n.text.value.clone()))
            .collect()
    };
    assert_eq!(texts(&prd), texts(&lf_prd));
    assert!(texts(&prd).iter().all(|t| !t.contains('\r')));
    assert_eq!(prd.plan.as_ref().map(|p| p.cycles.len()), Some(3));
    assert_eq!(
        prd.requirements[0].header.slice(&crlf),
        "FR-1: Borrow a book"
    );
    assert_eq!(
        prd.plan,
        lf_prd.plan.clone().map(|mut p| {
            // Only spans differ; compare the rest by rebuilding from the CRLF parse.
            for (a, b) in p.cycles.iter_mut().zip(&prd.plan.as_ref().unwrap().cycles) {
                a.span = b.span;
                if let (Some(x), Some(y)) = (a.module_hint.as_mut(), b.module_hint.as_ref()) {
                    x.span = y.span;
                }
            }
            for (a, b) in p.phases.iter_mut().zip(&prd.plan.as_ref().unwrap().phases) {
                a.span = b.span;
            }
            for (a, b) in p
                .module_api
                .iter_mut()
                .zip(&prd.plan.as_ref().unwrap().module_api)
            {
                a.span = b.span;
            }
            if let (Some(a), Some(b)) = (
                p.module_structure.as_mut(),
                prd.plan.as_ref().unwrap().module_structure.as_ref(),
            ) {
                a.span = b.span;
            }
            if let (Some(a), Some(b)) = (
                p.dependency_changes.as_mut(),
                prd.plan.as_ref().unwrap().dependency_changes.as_ref(),
            ) {
                a.span = b.span;
            }
            p
        })
    );
    assert_spans(&prd, &crlf);
}

#[test]
fn bold_ids_and_keywords() {
    let text = "**FR-1**: Borrow\n**FR-2: Return**\n**FR-3:** Reserve\nfr-4: Lower case\n\
                - **NFR-1**: Answers within 200 ms\n**AC-2:** **Given** a loan **When** returned **Then** closed\n";
    let (prd, diags) = parse(text);
    assert!(diags.is_empty(), "{diags:?}");
    let reqs: Vec<(&str, &str)> = prd
        .requirements
        .iter()
        .map(|r| (r.id.value.as_str(), r.title.value.as_str()))
        .collect();
    assert_eq!(
        reqs,
        [
            ("FR-1", "Borrow"),
            ("FR-2", "Return"),
            ("FR-3", "Reserve"),
            ("fr-4", "Lower case")
        ]
    );
    assert_eq!(prd.nfrs[0].text.value, "Answers within 200 ms");
    assert_eq!(ids_of(&prd.requirements[1].criteria), ["AC-2"]);
    assert_eq!(
        prd.requirements[1].criteria[0].text.value,
        "**Given** a loan **When** returned **Then** closed"
    );
    assert_spans(&prd, text);
}

#[test]
fn empty_and_garbage_inputs() {
    for text in [
        "",
        "\n\n",
        "\r\n",
        "\u{feff}",
        "===\n---\n",
        "**\n*\n-\n#\n",
    ] {
        let (prd, diags) = parse(text);
        assert!(
            prd.requirements.is_empty() && prd.nfrs.is_empty() && prd.plan.is_none(),
            "{text:?}"
        );
        assert!(
            diags.is_empty() && prd.requirements_end.is_none() && prd.meta.title.is_none(),
            "{text:?}"
        );
    }
    let garbage = "ÄÖÜ 😀 ::: FR-\n  AC-1.\n### Phase x\nTDD Cycle\n**TDD Cycle 99999999999: x**\n\
                   MODULE STRUCTURE\n├──\nDEPENDENCY CHANGES\nx = [\"unterminated\nMODULE API SPECIFICATION\n- (: )\n\
                   src/:\n  - :\n\u{0}\u{7f}\t\r\n";
    let (prd, _) = parse(garbage);
    assert!(prd.requirements.is_empty());
    assert_spans(&prd, garbage);
    assert!(!looks_like_legacy(garbage));
}

#[test]
fn huge_lines_and_many_lines_stay_linear() {
    let long = "x".repeat(200_000);
    let inputs = [
        format!("FR-1: {long}\n  FR-1.1: {long}\n"),
        format!("FR-{long}: title\n"),
        "a-".repeat(100_000),
        "FR-".repeat(70_000),
        "**".repeat(100_000),
        "#".repeat(200_000),
        format!("AC-1: t\nGIVEN {long}\n{}", "  x\n".repeat(50_000)),
        format!("MODULE STRUCTURE\n---\n{}", "├── a.py # x\n".repeat(20_000)),
        format!(
            "DEPENDENCY CHANGES\n===\nx = [{}\n",
            "\"p\", ".repeat(40_000)
        ),
        format!("FR-1: t\n{}", "  FR-1.1: x\n    y\n".repeat(20_000)),
        format!("{}FR-1: t\n", "AC-1: FR-1 FR-1.1\n".repeat(20_000)),
        "\n".repeat(200_000),
    ];
    for text in &inputs {
        let started = std::time::Instant::now();
        let (prd, _) = parse(text);
        let _ = looks_like_legacy(text);
        assert_spans(&prd, text);
        // Generous: a quadratic rescan of these inputs takes minutes.
        assert!(
            started.elapsed().as_secs() < 20,
            "{}",
            &text[..text.len().min(40)]
        );
    }
    let (prd, _) = parse(&inputs[0]);
    assert_eq!(prd.requirements[0].title.value.len(), 200_000);
    assert_eq!(prd.requirements[0].criteria[0].text.value.len(), 200_000);
    let (prd, _) = parse(&inputs[10]);
    assert_eq!(prd.requirements[0].criteria.len(), 20_000);
}

#[test]
fn keyword_without_valid_id_is_reported() {
    let text = "FR: No id here\nAC: GIVEN x WHEN y THEN z\nFR-: Dash only\nFR-1a_b: Underscore\nNFR: Unnumbered\n\
                AC 7: Space instead of dash\nFruit: apple\nAcme: anvil\nFR-1: Valid\n";
    let (prd, diags) = parse(text);
    let labels: Vec<&str> = diags.iter().map(|d| d.span.slice(text)).collect();
    assert_eq!(labels, ["FR", "AC", "FR-", "FR-1a_b", "NFR", "AC 7"]);
    assert!(diags.iter().all(|d| d.code == Code::MissingId));
    assert_eq!(prd.requirements.len(), 1);
    assert!(prd.shared_criteria.is_empty() && prd.nfrs.is_empty());
}

#[test]
fn attachment_rule() {
    let text = "AC-1: Before its requirement\nGIVEN a WHEN b THEN c\n\n\
                FR-1: One\nFR-3: Three\nFR-HTMX-01: Htmx\n\n\
                AC-3.2: Dotted id\nGIVEN a WHEN b THEN c\n\
                AC-03: Leading zero\n\
                AC-9: Names a sub-item\nWHEN FR-3.4 runs THEN ok\n\
                AC-HTMX-01: Alphanumeric\n\
                AC-1: Mention wins (FR-3)\n\
                AC-5: Mentions only unknown ids FR-7 and NFR-1\n";
    let (prd, _) = parse(text);
    let by_req: Vec<(&str, Vec<&str>)> = prd
        .requirements
        .iter()
        .map(|r| (r.id.value.as_str(), ids_of(&r.criteria)))
        .collect();
    assert_eq!(
        by_req,
        [
            ("FR-1", vec!["AC-1"]),
            ("FR-3", vec!["AC-3.2", "AC-03", "AC-9", "AC-1"]),
            ("FR-HTMX-01", vec!["AC-HTMX-01"]),
        ]
    );
    assert_eq!(ids_of(&prd.shared_criteria), ["AC-5"]);
}

#[test]
fn sub_items_continuations_and_blocks() {
    let text = "FR-1: Borrow\n  Priority: high\n  FR-1.1: first line\n      second line\n    - GIVEN nested step\n\
                FR-1.2: unindented sub-item\n\n  FR-1.3: after a blank line\n\nSome closing prose.\n\n\
                OTHER NOTES\n\nFR-2.1: no requirement is open and FR-2 comes later\nFR-2: Second\n\
                FR-1.4: a later sub-item of FR-1 stays with FR-2, whose block is open\n\n\
                ACCEPTANCE CRITERIA\n\nFR-1.5: found by its id\n";
    let (prd, _) = parse(text);
    let fr1 = &prd.requirements[0];
    assert_eq!(
        ids_of(&fr1.criteria),
        ["FR-1.1", "FR-1.2", "FR-1.3", "FR-1.5"]
    );
    assert_eq!(
        fr1.criteria[0].text.value,
        "first line second line - GIVEN nested step"
    );
    assert!(
        fr1.span.slice(text).ends_with("Some closing prose."),
        "only the last requirement grows"
    );
    assert_eq!(ids_of(&prd.requirements[1].criteria), ["FR-1.4"]);
    assert_eq!(ids_of(&prd.shared_criteria), ["FR-2.1"]);
    assert!(
        prd.requirements[1]
            .span
            .slice(text)
            .ends_with("whose block is open")
    );
    assert_eq!(prd.requirements_end, Some(prd.requirements[1].span.end));
    assert_spans(&prd, text);
}

#[test]
fn headings_end_blocks_and_title_rules() {
    let text = "FUNCTIONAL REQUIREMENTS\n=======================\nFR-1: One\n  FR-1.1: The system SHALL work.\n\n\
                NOTES\nFree text that is not part of FR-1.\n";
    let (prd, _) = parse(text);
    assert!(prd.meta.title.is_none(), "a known section is not a title");
    assert!(
        prd.requirements[0]
            .span
            .slice(text)
            .ends_with("SHALL work.")
    );

    let (prd, _) = parse("# Library spec\n\nFR-1: One\n");
    assert_eq!(
        prd.meta.title.map(|t| t.value),
        Some("Library spec".to_string())
    );
    let (prd, _) = parse("Intro line\n\nLater Title\n===========\n");
    assert!(
        prd.meta.title.is_none(),
        "only the first line can be the title"
    );
}

#[test]
fn plan_variants() {
    let text = "TDD Cycle 4: Bare header, no phase\n* Component with backend/app/routes.py path\n\
                - Tests: 5\n\n### TDD Cycle 5 - Markdown header\nTests: 3 to 7\n- **Module Hint:** backend/x.py\n\
                Module Hint: src/ignored.py\n\n\
                MODULE STRUCTURE:\n```\nproject/\n|-- app/\n|   |-- main.py  # entry\n|   `-- README.md\n```\n\n\
                NOTES\nnot-a-file.py\n\n\
                DEPENDENCY CHANGES\n==================\n[project.optional-dependencies]\napi = [\n  \"fastapi>=0.110\",\n  'uvicorn[standard]',\n]\nother = [\"no\"]\n\n\
                MODULE API SPECIFICATION\n========================\n### src/app/main.py\n- create_app: Builds the app\n- `VERSION`\n";
    let (prd, diags) = parse(text);
    assert!(diags.is_empty(), "{diags:?}");
    let plan = prd.plan.unwrap();
    assert!(plan.phases.is_empty());
    let c4 = &plan.cycles[0];
    assert_eq!(
        (c4.number, c4.phase, c4.expected_tests),
        (4, None, Some((5, 5)))
    );
    assert_eq!(c4.components, ["Component with backend/app/routes.py path"]);
    assert_eq!(
        c4.module_hint.as_ref().map(|h| h.value.as_str()),
        Some("backend/app/routes.py")
    );
    let c5 = &plan.cycles[1];
    assert_eq!(
        (c5.number, c5.title.as_str(), c5.expected_tests),
        (5, "Markdown header", Some((3, 7)))
    );
    let hint = c5.module_hint.as_ref().unwrap();
    assert_eq!(
        (hint.value.as_str(), hint.span.slice(text)),
        ("backend/x.py", "backend/x.py")
    );

    let structure = plan.module_structure.unwrap();
    assert_eq!(structure.base_path.as_deref(), Some("project/"));
    assert_eq!(structure.files, ["main.py", "README.md"]);
    let deps = plan.dependency_changes.unwrap();
    assert_eq!(deps.extra.as_deref(), Some("api"));
    assert_eq!(deps.packages, ["fastapi>=0.110", "uvicorn[standard]"]);
    let api = &plan.module_api[0];
    assert_eq!(api.path, "src/app/main.py");
    let names: Vec<&str> = api.exports.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["create_app", "VERSION"]);
    assert_eq!(
        api.exports[0].description.as_deref(),
        Some("Builds the app")
    );
}

#[test]
fn plan_only_when_present() {
    let (prd, _) = parse("FR-1: One\n  FR-1.1: The system SHALL work.\n");
    assert!(prd.plan.is_none());
    let (prd, _) = parse("### Phase 1: Only a phase\n");
    assert_eq!(prd.plan.map(|p| p.phases.len()), Some(1));
}

#[test]
fn detects_legacy_text() {
    assert!(looks_like_legacy(FIXTURE));
    assert!(looks_like_legacy("Intro\nFR-HTMX-01: Title\n"));
    assert!(looks_like_legacy("**FR-1**: Title\n"));
    assert!(looks_like_legacy("**TDD Cycle 2**\n"));
    assert!(looks_like_legacy("TDD Cycle 1: Title\n"));
    assert!(!looks_like_legacy(
        "### REQ-1 Borrow\n- AC-1.1: WHEN x THE SYSTEM SHALL y\n"
    ));
    assert!(!looks_like_legacy(
        "- FR-1: a bulleted item\n  FR-1: indented\nFR-1 no colon\n"
    ));
    assert!(!looks_like_legacy(
        "# Doc\n```text\nFR-1: inside a fence\n```\n"
    ));
    assert!(!looks_like_legacy("We will do TDD Cycle 1 later.\n"));
    assert!(!looks_like_legacy(""));
}

#[test]
fn helpers() {
    assert_eq!(parse_range("8-10"), Some((8, 10)));
    assert_eq!(parse_range("8 – 10 tests"), Some((8, 10)));
    assert_eq!(parse_range("~12"), Some((12, 12)));
    assert_eq!(parse_range("10-8"), Some((8, 10)));
    assert_eq!(parse_range("many"), None);
    assert_eq!(parse_range("99999999999"), None);
    assert_eq!(id_key("fr-01.002"), "FR-1.2");
    assert_eq!(id_key("FR-HTMX-00"), "FR-HTMX-0");
    let s = "see FR-1.2, NFR-3 and (FR-API-4); xFR-9 FR-";
    assert_eq!(
        fr_mentions(s).iter().map(|(_, m)| *m).collect::<Vec<_>>(),
        ["FR-1.2", "FR-API-4"]
    );
    assert!(is_file_name("models/loan.py") && is_file_name("pyproject.toml"));
    assert!(!is_file_name("src/") && !is_file_name("1.2") && !is_file_name(".gitignore"));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("FR-1: T\n".to_string()),
            Just("  FR-1.1: x\n".to_string()),
            Just("AC-2: t\n".to_string()),
            Just("GIVEN a\n".to_string()),
            Just("**TDD Cycle 1: c**\n".to_string()),
            Just("### Phase 1: p\n".to_string()),
            Just("MODULE STRUCTURE\n---\n".to_string()),
            Just("DEPENDENCY CHANGES\n===\n".to_string()),
            Just("MODULE API SPECIFICATION\n===\n".to_string()),
            Just("src/a.py:\n".to_string()),
            Just("x = [\"a\"\n".to_string()),
            Just("- NFR-1: n\n".to_string()),
            Just("\r\n".to_string()),
            "[ -~é😀\t#*`=\\-]{0,12}\n?",
        ]
    }

    proptest! {
        #[test]
        fn never_panics_and_spans_stay_in_bounds(parts in prop::collection::vec(fragment(), 0..24)) {
            let text: String = parts.concat();
            let (prd, diags) = parse(&text);
            let _ = looks_like_legacy(&text);
            assert_spans(&prd, &text);
            for d in &diags {
                prop_assert!(text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end));
            }
            for (_, c) in prd.criteria() {
                prop_assert!(text.get(c.span.range()).is_some());
            }
        }
    }
}
