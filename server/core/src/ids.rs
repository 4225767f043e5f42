//! Requirement, criterion and NFR ids: `REQ-1`, `AC-1.2`, `FR-HTMX-01.3`, `NFR-4`.
//!
//! Grammar: a letter prefix, one or more `-group`s of letters/digits, then
//! optional `.group`s. Lower-case prefixes are accepted only when a group has a
//! digit, so ordinary hyphenated words ("user-friendly") are never ids.

/// Byte length of the id at the start of `s`, if there is one.
pub fn scan_id(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let prefix = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    if prefix == 0 || prefix > 12 {
        return None;
    }
    let mut i = prefix;
    let mut groups = 0;
    let mut has_digit = false;
    while i < b.len() && b[i] == b'-' {
        let run = b[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        if run == 0 {
            break;
        }
        has_digit |= b[i + 1..i + 1 + run].iter().any(u8::is_ascii_digit);
        i += 1 + run;
        groups += 1;
    }
    if groups == 0 {
        return None;
    }
    while i < b.len() && b[i] == b'.' {
        let run = b[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        if run == 0 {
            break;
        }
        has_digit = true;
        i += 1 + run;
    }
    let upper_prefix = b[..prefix].iter().all(u8::is_ascii_uppercase);
    if !(upper_prefix || has_digit) {
        return None;
    }
    // An id ends at a word boundary.
    match b.get(i) {
        Some(c) if c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-' => None,
        _ => Some(i),
    }
}

/// True when `s` is exactly one id.
pub fn is_id(s: &str) -> bool {
    scan_id(s) == Some(s.len())
}

/// The id prefix, upper-cased: `req-1` → `REQ`.
pub fn prefix(id: &str) -> String {
    id.chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_uppercase()
}

pub fn is_nfr(id: &str) -> bool {
    prefix(id) == "NFR"
}

/// `REQ-12` → ("REQ-", 12); `AC-3.4` → ("AC-3.", 4). None if the id does not end in a number.
pub fn split_number(id: &str) -> Option<(&str, u64)> {
    let digits = id.bytes().rev().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 18 {
        return None;
    }
    let (head, tail) = id.split_at(id.len() - digits);
    Some((head, tail.parse().ok()?))
}

/// The first id of the form `head` + n not in `taken` (compared case-insensitively), n ≥ 1.
pub fn next_free(head: &str, taken: &[&str]) -> String {
    (1u64..)
        .map(|n| format!("{head}{n}"))
        .find(|candidate| !taken.iter().any(|t| t.eq_ignore_ascii_case(candidate)))
        .expect("an unbounded range always yields a free id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_ids() {
        assert_eq!(scan_id("REQ-1 Borrow"), Some(5));
        assert_eq!(scan_id("AC-1.2: WHEN"), Some(6));
        assert_eq!(scan_id("FR-HTMX-01.3:"), Some(12));
        assert_eq!(scan_id("req-7"), Some(5));
        assert_eq!(scan_id("user-friendly"), None);
        assert_eq!(scan_id("REQ-"), None);
        assert_eq!(scan_id("REQ1"), None);
        assert_eq!(scan_id("REQ-1x_"), None);
        assert!(is_id("NFR-2") && is_nfr("nfr-2"));
    }

    #[test]
    fn numbers_and_free_ids() {
        assert_eq!(split_number("AC-3.4"), Some(("AC-3.", 4)));
        assert_eq!(next_free("REQ-", &["REQ-1", "req-2"]), "REQ-3");
    }
}
