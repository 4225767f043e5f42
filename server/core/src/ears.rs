//! Classifies acceptance-criterion text: an EARS pattern, Given/When/Then, a
//! plain SHALL statement, or none of these (not testable as written).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CriterionForm {
    /// `THE SYSTEM SHALL …` with no trigger.
    Ubiquitous,
    /// `WHEN <trigger> … SHALL …`
    EventDriven,
    /// `IF <condition> THEN … SHALL …`
    Unwanted,
    /// `WHILE <state> … SHALL …`
    StateDriven,
    /// `WHERE <feature> … SHALL …`
    Optional,
    /// `GIVEN … WHEN … THEN …`
    GivenWhenThen,
    /// A sentence with SHALL or MUST that follows no pattern.
    Shall,
    /// An `IF` without `THEN`, or a `GIVEN` without `WHEN`/`THEN`: started but incomplete.
    Incomplete(&'static str),
    Untestable,
}

impl CriterionForm {
    pub fn is_testable(self) -> bool {
        !matches!(
            self,
            CriterionForm::Untestable | CriterionForm::Incomplete(_)
        )
    }
}

pub fn classify(text: &str) -> CriterionForm {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let has = |w: &str| words.iter().any(|x| x == w);
    let first = words.first().map(String::as_str).unwrap_or("");
    let shall = has("shall") || has("must");
    match first {
        "given" if has("when") && has("then") => CriterionForm::GivenWhenThen,
        "given" => CriterionForm::Incomplete("a GIVEN needs WHEN and THEN clauses"),
        "when" if shall => CriterionForm::EventDriven,
        "when" if has("then") => CriterionForm::GivenWhenThen,
        "when" => {
            CriterionForm::Incomplete("a WHEN needs a response: `… THE SYSTEM SHALL <response>`")
        }
        "if" if has("then") && shall => CriterionForm::Unwanted,
        "if" => CriterionForm::Incomplete("an IF needs `THEN THE SYSTEM SHALL <response>`"),
        "while" if shall => CriterionForm::StateDriven,
        "where" if shall => CriterionForm::Optional,
        _ if has("given") && has("when") && has("then") => CriterionForm::GivenWhenThen,
        _ if has("system") && shall => CriterionForm::Ubiquitous,
        _ if shall => CriterionForm::Shall,
        _ => CriterionForm::Untestable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        use CriterionForm::*;
        assert_eq!(
            classify("WHEN a member borrows a book THE SYSTEM SHALL record a loan"),
            EventDriven
        );
        assert_eq!(
            classify("IF the book is on loan THEN the system shall reject it"),
            Unwanted
        );
        assert_eq!(
            classify("While offline, the app shall queue writes"),
            StateDriven
        );
        assert_eq!(
            classify("Where audit is enabled the system shall log"),
            Optional
        );
        assert_eq!(
            classify("Given a member When they borrow Then a loan exists"),
            GivenWhenThen
        );
        assert_eq!(classify("The system shall hash passwords"), Ubiquitous);
        assert_eq!(classify("Passwords must be hashed"), Shall);
        assert!(matches!(classify("IF the book is on loan"), Incomplete(_)));
        assert!(matches!(
            classify("GIVEN a member THEN a loan exists"),
            Incomplete(_)
        ));
        assert_eq!(classify("Borrowing works nicely"), Untestable);
    }
}
