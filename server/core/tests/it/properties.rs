//! Property tests: arbitrary bytes and hostile shapes fed to every parser and
//! the validator. No panic, spans inside the text, and broken input is
//! reported rather than silently accepted.

use proptest::prelude::*;
use tdd_core::analysis::{Options, analyze, analyze_bytes};
use tdd_core::diagnostic::{Code, apply_edits};

const NAMES: &[&str] = &["x.prd.md", "x.prd.yaml", "x.prd.json", "x_spec.txt"];

fn check_invariants(name: &str, text: &str) {
    let analysis = analyze(name, text, &Options::default());
    for d in &analysis.diagnostics {
        assert!(
            d.span.start <= d.span.end && d.span.end <= text.len(),
            "{name}: span {:?} out of {}",
            d.span,
            text.len()
        );
        assert!(
            text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end),
            "{name}: span splits a char"
        );
        for fix in &d.fixes {
            // Applying any fix must give a string we can analyse again.
            let fixed = apply_edits(text, &fix.edits);
            let _ = analyze(name, &fixed, &Options::default());
        }
    }
}

/// Line-shaped input built from PRD fragments, so the parsers go deep rather than bail early.
fn prd_like() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("---\n".to_string()),
        Just("## Requirements\n".to_string()),
        Just("## Non-functional requirements\n".to_string()),
        Just("### REQ-1 Title\n".to_string()),
        Just("#### REQ-2: Other\n".to_string()),
        Just("- AC-1.1: WHEN x THE SYSTEM SHALL y\n".to_string()),
        Just("  THEN z\n".to_string()),
        Just("Depends on: REQ-1, REQ-2, REQ-3\n".to_string()),
        Just("Tests: ../x.py, /abs\n".to_string()),
        Just("- NFR-1: fast\n".to_string()),
        Just("FR-1: Legacy\n".to_string()),
        Just("  FR-1.1: The system shall x\n".to_string()),
        Just("AC-1: Title\nGIVEN a\nWHEN b\nTHEN c\n".to_string()),
        Just("**TDD Cycle 1: x**\nTests: 8-10\nModule Hint: src/x.py\n".to_string()),
        Just("MODULE STRUCTURE\n----------------\nsrc/app/\n  x.py\n".to_string()),
        Just("```\n".to_string()),
        Just("requirements:\n  - id: REQ-1\n    title: x\n".to_string()),
        Just("{\"requirements\": [{\"id\": 1}]}".to_string()),
        "[^\n]{0,40}\n",
        "\\PC{0,20}",
    ];
    prop::collection::vec(fragment, 0..40).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000), which in 0..4usize) {
        let analysis = analyze_bytes(NAMES[which], &bytes, &Options::default());
        if std::str::from_utf8(&bytes).is_err() {
            prop_assert_eq!(analysis.diagnostics.len(), 1);
            prop_assert_eq!(analysis.diagnostics[0].code, Code::InvalidEncoding);
        }
    }

    #[test]
    fn arbitrary_text_keeps_spans_valid(text in "\\PC{0,400}", which in 0..4usize) {
        check_invariants(NAMES[which], &text);
    }

    #[test]
    fn prd_shaped_text_keeps_spans_valid(text in prd_like(), which in 0..4usize) {
        check_invariants(NAMES[which], &text);
    }
}

/// Runs `f` on a thread with a 256 KiB stack: an eighth of what a tokio worker gets,
/// so deep input is proven to fit with room to spare.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn deeply_nested_yaml_and_json_are_reported() {
    on_small_stack(deeply_nested);
}

fn deeply_nested() {
    let nested_block: String = (1..400)
        .map(|i| format!("{}- a:\n", " ".repeat(i * 2)))
        .collect();
    for (name, text) in [
        ("deep.prd.yaml", format!("a:\n{nested_block}")),
        ("deep.prd.yaml", "[".repeat(100_000)),
        ("deep.prd.json", "[".repeat(100_000) + &"]".repeat(100_000)),
        (
            "deep.prd.json",
            "{\"a\":".repeat(50_000) + "1" + &"}".repeat(50_000),
        ),
    ] {
        let analysis = analyze(name, &text, &Options::default());
        assert!(
            analysis
                .diagnostics
                .iter()
                .any(|d| matches!(d.code, Code::SyntaxError | Code::SchemaViolation)),
            "{name} ({} bytes): {:?}",
            text.len(),
            analysis
                .diagnostics
                .iter()
                .map(|d| d.code)
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn yaml_alias_bombs_are_bounded() {
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
    for i in 0..12 {
        let prev = if i == 0 {
            "a".to_string()
        } else {
            format!("l{}", i - 1)
        };
        let refs = vec![format!("*{prev}"); 9].join(", ");
        text.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
    }
    let analysis = analyze("bomb.prd.yaml", &text, &Options::default());
    assert!(!analysis.diagnostics.is_empty());
}

#[test]
fn huge_lines_and_huge_files_finish() {
    let long_line = format!(
        "# T\n\n## Requirements\n\n### REQ-1 {}\n",
        "word ".repeat(200_000)
    );
    for name in NAMES {
        let _ = analyze(name, &long_line, &Options::default());
    }
    let too_big = "x".repeat(3 * 1024 * 1024);
    let analysis = analyze("big.prd.md", &too_big, &Options::default());
    assert_eq!(analysis.diagnostics[0].code, Code::FileTooLarge);
    assert!(
        analysis.diagnostics[0].message.contains("3072 KiB"),
        "{}",
        analysis.diagnostics[0].message
    );
}

#[test]
fn empty_files_say_there_are_no_requirements() {
    for name in NAMES {
        let codes: Vec<Code> = analyze(name, "", &Options::default())
            .diagnostics
            .iter()
            .map(|d| d.code)
            .collect();
        assert_eq!(codes, [Code::NoRequirements], "{name}");
    }
}
