//! UTC timestamps in the two shapes the vendors sign: ISO 8601
//! (`2026-11-24T21:36:24Z`, Alibaba) and compact (`20261124T213624Z`,
//! Volcengine and AWS SigV4). Seconds since the Unix epoch, no time zones.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// (year, month, day) from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parts(secs: i64) -> (i64, u32, u32, i64, i64, i64) {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    (y, mo, d, s / 3600, s % 3600 / 60, s % 60)
}

/// `2026-11-24T21:36:24Z`
pub fn iso8601(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = parts(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `20261124T213624Z`
pub fn compact(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = parts(secs);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn from_fields(y: &str, mo: &str, d: &str, h: &str, mi: &str, s: &str) -> Option<i64> {
    let (y, mo, d, h, mi, s) = (num(y)?, num(mo)?, num(d)?, num(h)?, num(mi)?, num(s)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + s)
}

// Both parsers slice by byte offsets: a value that is not all ASCII (a
// multibyte character, or a raw byte the HTTP layer turned into U+FFFD) is
// refused first, so no offset can fall inside a character.

pub fn parse_iso8601(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if !t.is_ascii()
        || t.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    from_fields(&t[0..4], &t[5..7], &t[8..10], &t[11..13], &t[14..16], &t[17..19])
}

pub fn parse_compact(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if !t.is_ascii() || t.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    from_fields(&t[0..4], &t[4..6], &t[6..8], &t[9..11], &t[11..13], &t[13..15])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = 1_795_556_184; // 2026-11-24T21:36:24Z
        assert_eq!(iso8601(t), "2026-11-24T21:36:24Z");
        assert_eq!(compact(t), "20261124T213624Z");
        assert_eq!(parse_iso8601("2026-11-24T21:36:24Z"), Some(t));
        assert_eq!(parse_compact("20261124T213624Z"), Some(t));
        assert_eq!(parse_iso8601("2016-02-23T12:46:24Z").map(iso8601).as_deref(), Some("2016-02-23T12:46:24Z"));
        assert_eq!(parse_compact("2026-11-24"), None);
        assert_eq!(parse_iso8601("2026-13-24T21:36:24Z"), None);
    }

    #[test]
    fn non_ascii_is_refused_not_sliced() {
        // 16 bytes with `T` and `Z` in place, a character across a field edge:
        // `é` (2 bytes), and U+FFFD (3 bytes, what a raw 0xFF becomes).
        assert_eq!(parse_compact("202\u{e9}112T213624Z"), None);
        assert_eq!(parse_compact("20261\u{e9}2T213624Z"), None);
        assert_eq!(parse_compact("2026\u{fffd}2T213624Z"), None);
        assert_eq!(parse_iso8601("2026-11-24T21:36:\u{e9}Z"), None);
    }
}
