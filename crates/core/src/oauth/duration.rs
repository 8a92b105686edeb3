//! Go durations (`1h30m`, `90s`, `1.5h`, `500ms`): the client's token lifespans are written and read
//! in this form, rendered canonically as Go prints them (`"1h"` is read back as `"1h0m0s"`), since
//! Hydra's client JSON did so and the SDKs pass the strings through.

const NS: u64 = 1;
const US: u64 = 1000 * NS;
const MS: u64 = 1000 * US;
const S: u64 = 1000 * MS;
const M: u64 = 60 * S;
const H: u64 = 60 * M;
const LIMIT: u64 = 1 << 63;

fn unit(u: &str) -> Option<u64> {
    match u {
        "ns" => Some(NS),
        // µ as U+00B5 (micro sign) or U+03BC (Greek small mu), as Go accepts both.
        "us" | "\u{b5}s" | "\u{3bc}s" => Some(US),
        "ms" => Some(MS),
        "s" => Some(S),
        "m" => Some(M),
        "h" => Some(H),
        _ => None,
    }
}

/// Parses a Go duration into nanoseconds: an optional sign, then one or more decimal numbers (with
/// an optional fraction) each followed by a unit among `ns us µs ms s m h`; `"0"` alone is zero.
pub fn parse(text: &str) -> Option<i64> {
    let (neg, mut s) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let mut whole: u64 = 0;
        for b in s[..digits].bytes() {
            whole = whole.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            if whole > LIMIT {
                return None;
            }
        }
        s = &s[digits..];
        let (mut frac, mut scale) = (0u64, 1f64);
        if let Some(rest) = s.strip_prefix('.') {
            let frac_digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for b in rest[..frac_digits].bytes() {
                // Digits beyond what fits are dropped, as Go does.
                if overflow || frac > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                frac = frac * 10 + u64::from(b - b'0');
                scale *= 10.0;
            }
            s = &rest[frac_digits..];
            if digits == 0 && frac_digits == 0 {
                return None;
            }
        } else if digits == 0 {
            return None;
        }
        let unit_len = s.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(s.len());
        if unit_len == 0 {
            return None;
        }
        let u = unit(&s[..unit_len])?;
        s = &s[unit_len..];
        if whole > LIMIT / u {
            return None;
        }
        let mut v = whole * u;
        if frac > 0 {
            v = v.checked_add((frac as f64 * (u as f64 / scale)) as u64)?;
            if v > LIMIT {
                return None;
            }
        }
        total = total.checked_add(v)?;
        if total > LIMIT {
            return None;
        }
    }
    if neg {
        return Some((total as i128).wrapping_neg() as i64);
    }
    i64::try_from(total).ok()
}

/// Writes `v / 10^prec` with its fraction (trailing zeros dropped, no point when the fraction is 0)
/// in front of `out`; returns the integer part.
fn push_frac(out: &mut Vec<u8>, mut v: u64, prec: u32) -> u64 {
    let mut printed = false;
    for _ in 0..prec {
        let digit = (v % 10) as u8;
        printed = printed || digit != 0;
        if printed {
            out.push(b'0' + digit);
        }
        v /= 10;
    }
    if printed {
        out.push(b'.');
    }
    v
}

fn push_int(out: &mut Vec<u8>, mut v: u64) {
    if v == 0 {
        out.push(b'0');
    }
    while v > 0 {
        out.push(b'0' + (v % 10) as u8);
        v /= 10;
    }
}

/// Renders nanoseconds as Go's `Duration.String` does: `0s`, `1.5µs`, `500ms`, `1m30s`, `1h0m0s`.
pub fn format(nanos: i64) -> String {
    let neg = nanos < 0;
    let mut u = nanos.unsigned_abs();
    // Built back to front, then reversed.
    let mut out: Vec<u8> = Vec::with_capacity(24);
    if u < S {
        out.push(b's');
        let prec = match u {
            0 => return "0s".to_owned(),
            u if u < US => {
                out.push(b'n');
                0
            }
            u if u < MS => {
                // "µ" is two bytes, pushed reversed.
                out.extend_from_slice(&[0xb5, 0xc2]);
                3
            }
            _ => {
                out.push(b'm');
                6
            }
        };
        u = push_frac(&mut out, u, prec);
        push_int(&mut out, u);
    } else {
        out.push(b's');
        u = push_frac(&mut out, u, 9);
        push_int(&mut out, u % 60);
        u /= 60;
        if u > 0 {
            out.push(b'm');
            push_int(&mut out, u % 60);
            u /= 60;
            if u > 0 {
                out.push(b'h');
                push_int(&mut out, u);
            }
        }
    }
    if neg {
        out.push(b'-');
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        for (input, canonical) in [
            ("1h", "1h0m0s"),
            ("1h30m", "1h30m0s"),
            ("90s", "1m30s"),
            ("1.5h", "1h30m0s"),
            ("500ms", "500ms"),
            ("0", "0s"),
            ("0s", "0s"),
            ("+5m", "5m0s"),
            ("-1.5s", "-1.5s"),
            ("1.5us", "1.5\u{b5}s"),
            ("2\u{3bc}s", "2\u{b5}s"),
            ("3ns", "3ns"),
            ("1h1ns", "1h0m0.000000001s"),
            ("720h", "720h0m0s"),
            (".5s", "500ms"),
            ("1.s", "1s"),
        ] {
            let n = parse(input).unwrap_or_else(|| panic!("{input} should parse"));
            assert_eq!(format(n), canonical, "{input}");
        }
        assert_eq!(parse("1h"), Some(3_600_000_000_000));
    }

    #[test]
    fn refused_forms() {
        for bad in ["", "-", "1", "h", "1x", ".s", "1..5s", "1h 2m", "9223372036854775808ns", "3000000h", "1.5", "--1s", "s1"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        assert_eq!(parse("9223372036854775807ns"), Some(i64::MAX));
        assert_eq!(parse("-9223372036854775808ns"), Some(i64::MIN));
    }
}
