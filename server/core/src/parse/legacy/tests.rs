//! Tests of the legacy parser against the corpus fixture: every element, attachment and span.

use super::*;
use crate::model::{Criterion, Format};
use crate::text::{Span, Spanned};

pub(super) const FIXTURE: &str =
    include_str!("../../../../../tests/corpus/legacy/library_spec.txt");

pub(super) fn ids_of(criteria: &[Criterion]) -> Vec<&str> {
    criteria
        .iter()
        .map(|c| c.id.as_ref().map_or("<none>", |id| id.value.as_str()))
        .collect()
}

/// Every spanned value slices out of `text`: exactly for single-line
/// values, first to last character for joined multi-line texts.
pub(super) fn assert_spans(prd: &Prd, text: &str) {
    let check = |value: &Spanned<String>| {
        let slice = value.span.slice(text);
        assert!(
            value.span.start <= value.span.end && value.span.end <= text.len(),
            "{value:?}"
        );
        if slice.contains('\n') {
            let first = value.value.split_whitespace().next().unwrap_or("");
            let last = value.value.split_whitespace().last().unwrap_or("");
            assert!(
                slice.starts_with(first) && slice.ends_with(last),
                "{value:?} vs {slice:?}"
            );
        } else {
            assert_eq!(slice, value.value, "{value:?}");
        }
    };
    let criteria = prd
        .requirements
        .iter()
        .flat_map(|r| &r.criteria)
        .chain(&prd.shared_criteria);
    for criterion in criteria {
        criterion.id.iter().for_each(check);
        check(&criterion.text);
        assert!(
            criterion.span.start <= criterion.text.span.start
                && criterion.text.span.end <= criterion.span.end
        );
    }
    for req in &prd.requirements {
        check(&req.id);
        check(&req.title);
        assert!(req.span.start <= req.header.start && req.header.end <= req.span.end);
        assert!(!req.header.slice(text).contains('\n'));
    }
    for nfr in &prd.nfrs {
        check(&nfr.id);
        check(&nfr.text);
    }
    prd.meta.title.iter().for_each(check);
    if let Some(plan) = &prd.plan {
        plan.cycles
            .iter()
            .filter_map(|c| c.module_hint.as_ref())
            .for_each(check);
    }
}

#[test]
fn fixture_requirements_and_sub_items() {
    let (prd, diags) = parse(FIXTURE);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(prd.format, Format::Legacy);
    assert_eq!(
        prd.meta.title.as_ref().map(|t| t.value.as_str()),
        Some("Library Loans Service")
    );
    assert_eq!(
        prd.meta.title.as_ref().map(|t| t.span),
        Some(Span::new(0, 21))
    );

    let reqs: Vec<(&str, &str)> = prd
        .requirements
        .iter()
        .map(|r| (r.id.value.as_str(), r.title.value.as_str()))
        .collect();
    assert_eq!(
        reqs,
        [
            ("FR-1", "Borrow a book"),
            ("FR-2", "Return a book"),
            ("FR-3", "Reserve a title"),
            ("FR-API-4", "Loans HTTP API")
        ]
    );

    let fr1 = &prd.requirements[0];
    let at = FIXTURE.find("FR-1: Borrow").unwrap();
    assert_eq!(fr1.id.span, Span::new(at, at + 4));
    assert_eq!(fr1.header.slice(FIXTURE), "FR-1: Borrow a book");
    assert_eq!(fr1.title.span.slice(FIXTURE), "Borrow a book");
    let block = fr1.span.slice(FIXTURE);
    assert!(
        block.starts_with("FR-1: Borrow a book\n") && block.ends_with("holds 5 active loans."),
        "{block}"
    );
    assert_eq!(ids_of(&fr1.criteria), ["FR-1.1", "FR-1.2"]);
    let wrapped = &fr1.criteria[0];
    assert_eq!(
        wrapped.text.value,
        "The system SHALL record a loan with the member id, the copy barcode and a due date 21 days after the checkout date."
    );
    assert!(
        wrapped
            .text
            .span
            .slice(FIXTURE)
            .starts_with("The system SHALL record")
    );
    assert!(
        wrapped
            .text
            .span
            .slice(FIXTURE)
            .ends_with("after the checkout date.")
    );
    assert!(
        wrapped
            .span
            .slice(FIXTURE)
            .starts_with("FR-1.1: The system")
    );

    // Bold id and a bulleted sub-item.
    let fr3 = &prd.requirements[2];
    assert_eq!(fr3.header.slice(FIXTURE), "**FR-3**: Reserve a title");
    assert_eq!(fr3.id.span.slice(FIXTURE), "FR-3");
    assert!(
        fr3.criteria[0]
            .span
            .slice(FIXTURE)
            .starts_with("- FR-3.1: The system SHALL queue")
    );

    let api = &prd.requirements[3];
    assert_eq!(ids_of(&api.criteria), ["FR-API-4.1", "FR-API-4.2", "AC-2"]);
    assert_eq!(
        api.criteria[1].text.value,
        "The system SHALL answer an unknown member id with HTTP status 404."
    );

    let end = FIXTURE.find("HTTP status 404.").unwrap() + "HTTP status 404.".len();
    assert_eq!(api.span.end, end);
    assert_eq!(prd.requirements_end, Some(end));
    assert_spans(&prd, FIXTURE);
}

#[test]
fn fixture_criteria_attachment() {
    let (prd, _) = parse(FIXTURE);
    let by_req: Vec<Vec<&str>> = prd
        .requirements
        .iter()
        .map(|r| ids_of(&r.criteria))
        .collect();
    assert_eq!(
        by_req,
        [
            vec!["FR-1.1", "FR-1.2"],
            // AC-1 names FR-2 in its title, which wins over its number.
            vec!["FR-2.1", "FR-2.2", "AC-1"],
            // AC-3 names no requirement: attached by number.
            vec!["FR-3.1", "AC-3"],
            // AC-2 names FR-API-4 in a WHEN line, which wins over FR-2.
            vec!["FR-API-4.1", "FR-API-4.2", "AC-2"],
        ]
    );
    assert!(prd.requirements.iter().all(|r| !r.criteria.is_empty()));
    assert_eq!(ids_of(&prd.shared_criteria), ["AC-4"]);

    let ac1 = &prd.requirements[1].criteria[2];
    assert_eq!(
        ac1.text.value,
        "Late return is charged (FR-2) GIVEN a loan whose due date was 3 days ago WHEN the copy is returned at the desk \
         THEN the loan is closed AND a late fee of 0.75 EUR is added to the member account"
    );
    let start = FIXTURE.find("AC-1: Late").unwrap();
    let end = FIXTURE.find("to the member account").unwrap() + "to the member account".len();
    assert_eq!(ac1.span, Span::new(start, end));
    assert_eq!(ac1.text.span, Span::new(start + "AC-1: ".len(), end));

    // Bold id, bulleted steps and bold keywords.
    let ac3 = &prd.requirements[2].criteria[1];
    assert_eq!(ac3.id.as_ref().unwrap().span.slice(FIXTURE), "AC-3");
    assert_eq!(
        ac3.text.value,
        "Reservation queue order GIVEN two members reserved the same title at 10:00 and 10:05 \
         WHEN a copy of the title is returned THEN the member who reserved at 10:00 is notified first"
    );
    assert!(
        ac3.span
            .slice(FIXTURE)
            .starts_with("**AC-3**: Reservation queue order")
    );

    // Unindented steps, and a continuation line of the THEN step.
    let ac4 = &prd.shared_criteria[0];
    assert!(ac4.text.value.ends_with("THEN one audit entry with the member id, the barcode and a UTC timestamp is written within 1 second"));
    assert!(
        ac4.span
            .slice(FIXTURE)
            .ends_with("  is written within 1 second")
    );
}

#[test]
fn fixture_nfrs() {
    let (prd, _) = parse(FIXTURE);
    let nfrs: Vec<(&str, &str)> = prd
        .nfrs
        .iter()
        .map(|n| (n.id.value.as_str(), n.text.value.as_str()))
        .collect();
    assert_eq!(
        nfrs,
        [
            (
                "NFR-1",
                "The loans API SHALL answer 95% of requests within 200 ms with 50 concurrent clients."
            ),
            (
                "NFR-2",
                "The service SHALL delete closed loan records within 30 days after their 7-year retention period ends."
            ),
            (
                "NFR-3",
                "The nightly overdue job SHALL finish within 10 minutes for 100000 active loans."
            ),
        ]
    );
    assert_eq!(
        prd.nfrs[0].span.slice(FIXTURE),
        "NFR-1: The loans API SHALL answer 95% of requests within 200 ms with 50 concurrent clients."
    );
    assert!(
        prd.nfrs[1]
            .text
            .span
            .slice(FIXTURE)
            .ends_with("\n       within 30 days after their 7-year retention period ends.")
    );
    assert!(
        prd.nfrs[2]
            .span
            .slice(FIXTURE)
            .starts_with("- NFR-3: The nightly")
    );
}

#[test]
fn fixture_plan() {
    let (prd, _) = parse(FIXTURE);
    let plan = prd.plan.as_ref().expect("the fixture has a plan");
    let phases: Vec<(u32, &str)> = plan
        .phases
        .iter()
        .map(|p| (p.number, p.title.as_str()))
        .collect();
    assert_eq!(
        phases,
        [(1, "Catalogue and loans"), (2, "Reservations and HTTP API")]
    );
    assert_eq!(
        plan.phases[0].span.slice(FIXTURE),
        "### Phase 1: Catalogue and loans"
    );

    let cycles: Vec<_> = plan
        .cycles
        .iter()
        .map(|c| {
            (
                c.number,
                c.title.as_str(),
                c.phase,
                c.expected_tests,
                c.module_hint.as_ref().map(|h| h.value.as_str()),
            )
        })
        .collect();
    assert_eq!(
        cycles,
        [
            (
                1,
                "Loan records",
                Some(1),
                Some((8, 10)),
                Some("src/library/loans.py")
            ),
            (
                2,
                "Returns and late fees",
                Some(1),
                Some((6, 6)),
                Some("src/library/fees.py")
            ),
            (
                3,
                "Reservation queue and loans endpoint",
                Some(2),
                Some((8, 12)),
                Some("src/library/api.py")
            ),
        ]
    );
    assert_eq!(
        plan.cycles[0].components,
        [
            "Loan model with due date calculation (FR-1.1)",
            "Loan limit check (FR-1.2)"
        ]
    );
    assert_eq!(
        plan.cycles[2].components[1],
        "GET /loans/{member_id} handler (FR-API-4.1, FR-API-4.2)"
    );
    // Hint spans cover just the path: after `Module Hint: `, inside backticks, or
    // the path token of a prose line (cycle 2 has no hint line).
    let hint = |n: usize| plan.cycles[n].module_hint.as_ref().unwrap().span;
    let at = FIXTURE.find("src/library/loans.py\n").unwrap();
    assert_eq!(hint(0), Span::new(at, at + "src/library/loans.py".len()));
    let at = FIXTURE.find("src/library/fees.py next").unwrap();
    assert_eq!(hint(1), Span::new(at, at + "src/library/fees.py".len()));
    let at = FIXTURE.find("`src/library/api.py`").unwrap() + 1;
    assert_eq!(hint(2), Span::new(at, at + "src/library/api.py".len()));
    assert!(
        plan.cycles[0]
            .span
            .slice(FIXTURE)
            .starts_with("**TDD Cycle 1: Loan records**")
    );
    assert!(
        plan.cycles[0]
            .span
            .slice(FIXTURE)
            .ends_with("Module Hint: src/library/loans.py")
    );

    let structure = plan.module_structure.as_ref().unwrap();
    assert_eq!(structure.base_path.as_deref(), Some("src/library/"));
    assert_eq!(
        structure.files,
        [
            "__init__.py",
            "loans.py",
            "fees.py",
            "reservations.py",
            "api.py"
        ]
    );
    assert!(
        structure
            .span
            .slice(FIXTURE)
            .starts_with("MODULE STRUCTURE\n")
    );
    assert!(structure.span.slice(FIXTURE).ends_with("# HTTP handlers"));

    let deps = plan.dependency_changes.as_ref().unwrap();
    assert_eq!(deps.extra.as_deref(), Some("library"));
    assert_eq!(
        deps.packages,
        ["sqlalchemy>=2.0", "fastapi>=0.110", "httpx"]
    );

    let api: Vec<&str> = plan.module_api.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(api, ["src/library/loans.py", "src/library/api.py"]);
    let loans = &plan.module_api[0];
    let exports: Vec<(&str, Option<&str>, Option<&str>)> = loans
        .exports
        .iter()
        .map(|e| (e.name.as_str(), e.kind.as_deref(), e.description.as_deref()))
        .collect();
    assert_eq!(
        exports,
        [
            (
                "Loan",
                Some("class"),
                Some("A loan of one copy to one member")
            ),
            (
                "LoanLimitError",
                Some("exception"),
                Some("Raised when a member already holds 5 active loans")
            ),
            (
                "checkout",
                Some("function"),
                Some("Creates a loan and returns it")
            ),
        ]
    );
    assert_eq!(
        loans.import_pattern.as_deref(),
        Some("from library.loans import Loan, checkout")
    );
    assert_eq!(
        loans.test_import.as_deref(),
        Some("from library.loans import Loan, LoanLimitError, checkout")
    );
    assert!(
        loans
            .span
            .slice(FIXTURE)
            .starts_with("src/library/loans.py:")
    );
    assert!(
        loans
            .span
            .slice(FIXTURE)
            .ends_with("LoanLimitError, checkout")
    );
    assert_eq!(plan.module_api[1].exports.len(), 1);
}
