//! Durations written as a number and a unit, repeated: `90s`, `5m`, `1h30m`.

use std::time::Duration;

/// Parses `90s`, `5m`, `1h30m`, `2h`: one or more whole numbers, each followed by `h`, `m`
/// or `s`, largest unit first, each unit at most once. Zero is refused; the message says
/// what is allowed.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration_or_zero(text)?;
    if duration.is_zero() {
        return Err(format!("`{text}` is zero; a duration must be positive"));
    }
    Ok(duration)
}

/// Like [`parse_duration`], and also zero: `0` alone, or units that add up to nothing (`0s`),
/// for settings where zero means "off".
pub fn parse_duration_or_zero(text: &str) -> Result<Duration, String> {
    const HELP: &str =
        "use whole numbers with units h, m, s, largest first, e.g. `90s`, `5m`, `1h30m`";
    let s = text.trim();
    if s.is_empty() {
        return Err(format!("empty duration; {HELP}"));
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total: u64 = 0;
    let mut last_rank = usize::MAX;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("`{text}` is not a duration; {HELP}"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}` is too large a duration"))?;
        rest = &rest[digits..];
        let (seconds, rank) = match rest.chars().next() {
            Some('h') => (3600, 2),
            Some('m') => (60, 1),
            Some('s') => (1, 0),
            Some(_) => return Err(format!("`{text}` is not a duration; {HELP}")),
            None => return Err(format!("`{text}` has no unit; {HELP}")),
        };
        if rank >= last_rank {
            return Err(format!("`{text}` is not a duration; {HELP}"));
        }
        last_rank = rank;
        rest = &rest[1..];
        total = number
            .checked_mul(seconds)
            .and_then(|n| total.checked_add(n))
            .ok_or_else(|| format!("`{text}` is too large a duration"))?;
    }
    Ok(Duration::from_secs(total))
}

/// Formats a whole-second duration the way [`parse_duration`] reads it (`1h30m`, `90s` → `1m30s`).
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs == 0 {
        return "0s".to_string();
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1h0m5s"), Ok(Duration::from_secs(3605)));
    }

    #[test]
    fn refuses_missing_units_wrong_order_and_zero() {
        assert!(parse_duration("300").unwrap_err().contains("no unit"));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("30m1h").is_err());
        assert!(parse_duration("5m5m").is_err());
        assert!(parse_duration("1.5h").is_err());
        assert!(parse_duration("0s").unwrap_err().contains("zero"));
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn zero_is_accepted_only_where_it_means_off() {
        assert_eq!(parse_duration_or_zero("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration_or_zero("0m"), Ok(Duration::ZERO));
        assert_eq!(parse_duration_or_zero("10m"), Ok(Duration::from_secs(600)));
        assert!(parse_duration_or_zero("00")
            .unwrap_err()
            .contains("no unit"));
        assert!(parse_duration("0").unwrap_err().contains("zero"));
    }

    #[test]
    fn formats_back_to_the_same_syntax() {
        for text in ["90s", "5m", "1h30m", "2h", "1h0m5s"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
    }
}
