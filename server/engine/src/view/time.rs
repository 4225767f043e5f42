//! The store's timestamps (`2026-01-31T12:00:00.000Z`) as milliseconds, for
//! durations.

/// Milliseconds since the Unix epoch, or `None` when `at` is not the store's
/// RFC 3339 UTC form.
pub(super) fn millis(at: &str) -> Option<i64> {
    let b = at.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !at.ends_with('Z') {
        return None;
    }
    let num = |from: usize, to: usize| at.get(from..to)?.parse::<i64>().ok();
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let fraction = at.get(19..at.len() - 1)?;
    let ms = match fraction.strip_prefix('.') {
        Some(digits) if !digits.is_empty() => {
            let first3: String = digits.chars().chain("00".chars()).take(3).collect();
            first3.parse::<i64>().ok()?
        }
        _ if fraction.is_empty() => 0,
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some((((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::millis;

    #[test]
    fn reads_the_stores_form() {
        assert_eq!(millis("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(millis("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(millis("2000-03-01T00:00:00Z"), Some(951_868_800_000));
        assert_eq!(millis("2026-12-06T07:04:36.123Z"), Some(1_796_540_676_123));
        assert_eq!(millis("yesterday"), None);
        assert_eq!(millis("2026-12-06 07:04:36Z"), None);
    }
}
