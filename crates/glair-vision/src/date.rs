//! Calendar dates without a date-time dependency: what NIK and date-of-birth
//! checks need (validity, ordering, today's date in Indonesia).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A proleptic Gregorian calendar date.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    // Field order makes the derived ordering chronological.
    year: i32,
    month: u8,
    day: u8,
}

impl Date {
    /// A date, or `None` when it does not exist in the calendar.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    pub fn year(self) -> i32 {
        self.year
    }
    pub fn month(self) -> u8 {
        self.month
    }
    pub fn day(self) -> u8 {
        self.day
    }

    /// Today in Western Indonesia Time (UTC+7), where the registry lives.
    pub fn today() -> Date {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        Date::from_days_since_epoch((secs + 7 * 3600).div_euclid(86_400))
    }

    /// Converts days since 1970-01-01 to a date (Howard Hinnant's civil_from_days).
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// Parses the wire format `dd-mm-yyyy`, strictly.
    pub fn parse_dmy(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[2] != b'-' || b[5] != b'-' {
            return None;
        }
        Date::new(digits(&b[6..10])? as i32, digits(&b[3..5])? as u8, digits(&b[0..2])? as u8)
    }

    /// Parses ISO 8601 `yyyy-mm-dd`, strictly.
    pub fn parse_iso(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        Date::new(digits(&b[0..4])? as i32, digits(&b[5..7])? as u8, digits(&b[8..10])? as u8)
    }

    /// The wire format, `dd-mm-yyyy`.
    pub fn to_dmy(self) -> String {
        format!("{:02}-{:02}-{:04}", self.day, self.month, self.year)
    }
}

/// ISO 8601, `yyyy-mm-dd`.
impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

pub(crate) fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_impossible_dates() {
        assert!(Date::new(2000, 2, 29).is_some());
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(2023, 4, 31).is_none());
        assert!(Date::new(2023, 13, 1).is_none());
        assert!(Date::new(2023, 1, 0).is_none());
    }

    #[test]
    fn parses_both_formats_strictly() {
        let d = Date::new(1999, 2, 1).unwrap();
        assert_eq!(Date::parse_dmy("01-02-1999"), Some(d));
        assert_eq!(Date::parse_iso("1999-02-01"), Some(d));
        assert_eq!(d.to_dmy(), "01-02-1999");
        assert_eq!(d.to_string(), "1999-02-01");
        for bad in ["1-2-1999", "01/02/1999", "1999-02-01", "31-02-1999", "0a-02-1999"] {
            assert_eq!(Date::parse_dmy(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_from_days_matches_known_points() {
        assert_eq!(Date::from_days_since_epoch(0), Date::new(1970, 1, 1).unwrap());
        assert_eq!(Date::from_days_since_epoch(11_016), Date::new(2000, 2, 29).unwrap());
        assert_eq!(Date::from_days_since_epoch(-1), Date::new(1969, 12, 31).unwrap());
        assert_eq!(Date::from_days_since_epoch(20_782), Date::new(2026, 11, 25).unwrap());
    }
}
