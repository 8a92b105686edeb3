//! `xs:dateTime` as SAML writes it, to and from milliseconds since the epoch.

const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01 (`civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `YYYY-MM-DDThh:mm:ss[.fraction][Z|±hh:mm]` (a missing zone is read as UTC, as the SAML
/// profile requires UTC anyway). Sub-millisecond digits are truncated. Anything else is `None`.
pub fn parse_date_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, rest) = s.split_once('T')?;
    let mut date_parts = date.split('-');
    let (y, mo, d) = (date_parts.next()?, date_parts.next()?, date_parts.next()?);
    if date_parts.next().is_some() || y.len() != 4 || mo.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, mo, d) = (digits(y)?, digits(mo)?, digits(d)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }

    let (clock, offset_minutes) = if let Some(clock) = rest.strip_suffix('Z') {
        (clock, 0)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (clock, zone) = rest.split_at(i);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (zh, zm) = zone[1..].split_once(':')?;
        if zh.len() != 2 || zm.len() != 2 {
            return None;
        }
        let (zh, zm) = (digits(zh)?, digits(zm)?);
        if zh > 14 || zm > 59 {
            return None;
        }
        (clock, sign * (zh * 60 + zm))
    } else {
        (rest, 0)
    };
    let (whole, fraction) = match clock.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (clock, None),
    };
    let mut hms = whole.split(':');
    let (h, mi, sec) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() || h.len() != 2 || mi.len() != 2 || sec.len() != 2 {
        return None;
    }
    let (h, mi, sec) = (digits(h)?, digits(mi)?, digits(sec)?);
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let millis = match fraction {
        None => 0,
        Some(f) => {
            digits(f)?;
            let ms: String = f.chars().chain("000".chars()).take(3).collect();
            digits(&ms)?
        }
    };
    let day_ms = days_from_civil(y, mo, d).checked_mul(MS_PER_DAY)?;
    Some(day_ms + ((h * 60 + mi - offset_minutes) * 60 + sec) * 1000 + millis)
}

/// `YYYY-MM-DDThh:mm:ss[.mmm]Z`, as Java's `Instant.toString()` writes a millisecond instant
/// (the fraction only when it is not zero).
pub fn format_date_time(ms: i64) -> String {
    let (days, in_day) = (ms.div_euclid(MS_PER_DAY), ms.rem_euclid(MS_PER_DAY));
    let (y, mo, d) = civil_from_days(days);
    let (secs, millis) = (in_day / 1000, in_day % 1000);
    let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if millis == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{millis:03}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_known_instants() {
        assert_eq!(parse_date_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date_time("2036-12-04T07:49:18Z"), Some(2_111_989_758_000));
        assert_eq!(format_date_time(2_111_989_758_000), "2036-12-04T07:49:18Z");
        assert_eq!(format_date_time(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(parse_date_time("2023-11-14T22:13:20.123Z"), Some(1_700_000_000_123));
        assert_eq!(parse_date_time("2024-02-29T12:00:00Z"), Some(1_709_208_000_000));
        for ms in [0, 1, 951_782_400_000, 4_102_444_799_999, 1_709_208_000_000] {
            assert_eq!(parse_date_time(&format_date_time(ms)), Some(ms), "{ms}");
        }
    }

    #[test]
    fn fractions_zones_and_missing_zone() {
        assert_eq!(parse_date_time("2023-11-14T22:13:20.1234567Z"), Some(1_700_000_000_123));
        assert_eq!(parse_date_time("2023-11-14T22:13:20.5Z"), Some(1_700_000_000_500));
        assert_eq!(parse_date_time("2023-11-14T22:13:20"), Some(1_700_000_000_000));
        assert_eq!(parse_date_time("2023-11-15T00:13:20+02:00"), Some(1_700_000_000_000));
        assert_eq!(parse_date_time("2023-11-14T21:13:20-01:00"), Some(1_700_000_000_000));
    }

    #[test]
    fn malformed_values_are_none() {
        for s in [
            "",
            "2023-11-14",
            "2023-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:13:60Z",
            "2023-11-14T22:13Z",
            "23-11-14T22:13:20Z",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20+2:00",
            "2023-11-14T22:13:20ZZ",
            "+2023-11-14T22:13:20Z",
            "2023-11-14T22:13:20.-5Z",
            "２０２３-11-14T22:13:20Z",
        ] {
            assert_eq!(parse_date_time(s), None, "{s}");
        }
    }
}
