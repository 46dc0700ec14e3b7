//! The NIK (Nomor Induk Kependudukan): 16 digits that encode where a person was
//! registered, their birth date, their gender and a serial number.
//!
//! Layout: `PP RR DD ddmmyy SSSS` (province, regency, district, birth date with
//! 40 added to the day for women, serial).

use std::fmt;

use crate::date::{digits, Date};
use crate::error::ValidationError;
use crate::field::Field;

/// The 38 province codes in use.
pub const PROVINCE_CODES: [u8; 38] = [
    11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36, 51, 52, 53, 61, 62, 63, 64, 65, 71, 72,
    73, 74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96,
];

/// A gender as encoded in a NIK and written on a KTP.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    /// The KTP's spelling, as sent on the wire.
    pub const fn as_ktp(self) -> &'static str {
        match self {
            Gender::Male => "LAKI-LAKI",
            Gender::Female => "PEREMPUAN",
        }
    }

    /// Accepts the KTP spelling and common aliases (L/P, M/F, male/female), any case.
    pub fn parse(s: &str) -> Option<Gender> {
        match s.trim().to_ascii_uppercase().as_str() {
            "LAKI-LAKI" | "LAKI LAKI" | "LAKILAKI" | "L" | "M" | "MALE" | "PRIA" => Some(Gender::Male),
            "PEREMPUAN" | "P" | "F" | "FEMALE" | "WANITA" => Some(Gender::Female),
            _ => None,
        }
    }
}

impl fmt::Display for Gender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_ktp())
    }
}

/// A structurally valid NIK. `Debug` and `Display` show it masked.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Nik {
    digits: [u8; 16],
}

impl Nik {
    /// Parses exactly 16 ASCII digits and checks the structure: a known province,
    /// regency and district 01-99, a real day and month (day + 40 for women) and a
    /// serial 0001-9999. Use [`Nik::parse_lenient`] for user-typed input.
    pub fn parse(s: &str) -> Result<Nik, ValidationError> {
        let b = s.as_bytes();
        if b.len() != 16 || !b.iter().all(u8::is_ascii_digit) {
            return Err(invalid(format!("must be exactly 16 digits (got {} characters)", s.chars().count())));
        }
        let mut d = [0u8; 16];
        d.copy_from_slice(b);
        let nik = Nik { digits: d };
        let province = nik.province_code();
        if !PROVINCE_CODES.contains(&province) {
            return Err(invalid(format!("unknown province code {province:02}")));
        }
        if nik.regency_code() == 0 {
            return Err(invalid("regency code must be 01-99".into()));
        }
        if nik.district_code() == 0 {
            return Err(invalid("district code must be 01-99".into()));
        }
        if nik.serial() == 0 {
            return Err(invalid("serial number must be 0001-9999".into()));
        }
        let (day, month, _) = nik.raw_birth();
        // Any century: Feb 29 is allowed here because a 2-digit year could be a leap year.
        let real_day = if day > 40 { day - 40 } else { day };
        let valid = (1..=31).contains(&day) || (41..=71).contains(&day);
        if !valid || Date::new(2000, month, real_day).is_none() {
            return Err(invalid(format!(
                "embedded birth date {day:02}{month:02} is not a real date (women add 40 to the day)"
            )));
        }
        if month == 2 && real_day == 29 && nik.birth_date_candidates().is_empty() {
            return Err(invalid("embedded birth date 29 February is not in a leap year".into()));
        }
        Ok(nik)
    }

    /// Like [`Nik::parse`], after trimming and removing the spaces, dashes and dots
    /// a user may have pasted.
    pub fn parse_lenient(s: &str) -> Result<Nik, ValidationError> {
        let cleaned: String = s.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '\u{a0}')).collect();
        Nik::parse(&cleaned)
    }

    /// The 16 digits, in clear. Personal data: do not log it.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.digits).expect("NIK digits are ASCII")
    }

    /// The NIK masked for logs: `317101******0001`.
    pub fn masked(&self) -> String {
        mask_nik(self.as_str())
    }

    fn num(&self, range: std::ops::Range<usize>) -> u32 {
        digits(&self.digits[range]).expect("NIK digits are ASCII")
    }

    pub fn province_code(&self) -> u8 {
        self.num(0..2) as u8
    }
    pub fn regency_code(&self) -> u8 {
        self.num(2..4) as u8
    }
    pub fn district_code(&self) -> u8 {
        self.num(4..6) as u8
    }
    /// The registration area, `PPRRDD` (the Kemendagri district code).
    pub fn region_code(&self) -> &str {
        &self.as_str()[..6]
    }
    pub fn serial(&self) -> u16 {
        self.num(12..16) as u16
    }

    fn raw_birth(&self) -> (u8, u8, u8) {
        (self.num(6..8) as u8, self.num(8..10) as u8, self.num(10..12) as u8)
    }

    pub fn gender(&self) -> Gender {
        if self.raw_birth().0 > 40 {
            Gender::Female
        } else {
            Gender::Male
        }
    }

    /// Day, month and two-digit year of birth as encoded (day without the +40).
    pub fn birth_day_month_year2(&self) -> (u8, u8, u8) {
        let (day, month, yy) = self.raw_birth();
        (if day > 40 { day - 40 } else { day }, month, yy)
    }

    /// The possible full birth dates (1900s and 2000s) that exist in the calendar.
    fn birth_date_candidates(&self) -> Vec<Date> {
        let (day, month, yy) = self.birth_day_month_year2();
        [1900, 2000].into_iter().filter_map(|c| Date::new(c + i32::from(yy), month, day)).collect()
    }

    /// The full birth date. The century is settled by `date_of_birth` when given
    /// (the one whose year ends in the NIK's two digits), otherwise the latest
    /// candidate not after today.
    pub fn birth_date(&self, date_of_birth: Option<Date>) -> Option<Date> {
        let candidates = self.birth_date_candidates();
        if let Some(dob) = date_of_birth {
            let century = dob.year() - dob.year().rem_euclid(100);
            if let Some(d) = candidates.iter().find(|d| d.year() - d.year().rem_euclid(100) == century) {
                return Some(*d);
            }
        }
        let today = Date::today();
        candidates.into_iter().filter(|d| *d <= today).max()
    }

    /// Compares what the NIK encodes with a stated birth date and gender. Dukcapil
    /// never reissues a NIK when a birth date is corrected, so a mismatch is not an
    /// error: it is information for the caller's own risk rules.
    pub fn consistency(&self, date_of_birth: Option<Date>, gender: Option<Gender>) -> NikConsistency {
        let (day, month, yy) = self.birth_day_month_year2();
        NikConsistency {
            date_of_birth: date_of_birth
                .map(|d| d.day() == day && d.month() == month && d.year().rem_euclid(100) as u8 == yy),
            gender: gender.map(|g| g == self.gender()),
        }
    }
}

/// Result of [`Nik::consistency`]: `None` where nothing was stated to compare.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default, serde::Serialize)]
pub struct NikConsistency {
    pub date_of_birth: Option<bool>,
    pub gender: Option<bool>,
}

impl NikConsistency {
    /// True unless a stated value disagrees with the NIK.
    pub fn is_consistent(&self) -> bool {
        self.date_of_birth != Some(false) && self.gender != Some(false)
    }
}

impl fmt::Debug for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nik({})", self.masked())
    }
}

impl fmt::Display for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl std::str::FromStr for Nik {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Nik, ValidationError> {
        Nik::parse_lenient(s)
    }
}

/// Masks anything NIK-like for display: the region (6 characters) and the last 4
/// stay, the birth date is hidden. Short or odd input is hidden whole.
pub fn mask_nik(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() == 16 {
        let head: String = chars[..6].iter().collect();
        let tail: String = chars[12..].iter().collect();
        format!("{head}******{tail}")
    } else {
        "*".repeat(chars.len().min(16))
    }
}

fn invalid(message: String) -> ValidationError {
    ValidationError::new(Field::Nik, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_womans_nik() {
        let nik = Nik::parse("3171014508900001").unwrap();
        assert_eq!(nik.province_code(), 31);
        assert_eq!(nik.regency_code(), 71);
        assert_eq!(nik.district_code(), 1);
        assert_eq!(nik.region_code(), "317101");
        assert_eq!(nik.gender(), Gender::Female);
        assert_eq!(nik.birth_day_month_year2(), (5, 8, 90));
        assert_eq!(nik.birth_date(None), Date::new(1990, 8, 5));
        assert_eq!(nik.serial(), 1);
        assert_eq!(format!("{nik:?}"), "Nik(317101******0001)");
    }

    #[test]
    fn settles_the_century_from_date_of_birth() {
        let nik = Nik::parse("3273010101050002").unwrap();
        assert_eq!(nik.birth_date(None), Date::new(2005, 1, 1));
        assert_eq!(nik.birth_date(Date::new(1905, 6, 6)), Date::new(1905, 1, 1));
        assert_eq!(nik.birth_date(Date::new(2005, 1, 1)), Date::new(2005, 1, 1));
    }

    #[test]
    fn rejects_structural_faults() {
        for (nik, why) in [
            ("317101450890001", "16 digits"),
            ("31710145089000012", "16 digits"),
            ("3171014508900a01", "16 digits"),
            ("9971014508900001", "province"),
            ("3100014508900001", "regency"),
            ("3171004508900001", "district"),
            ("3171013208900001", "birth date"),
            ("3171017208900001", "birth date"),
            ("3171010013900001", "birth date"),
            ("3171013102900001", "birth date"),
            ("3171012902010001", "leap year"),
            ("3171014508900000", "serial"),
        ] {
            let err = Nik::parse(nik).unwrap_err();
            assert_eq!(err.field(), "nik");
            assert!(err.message().contains(why), "{nik}: {err}");
        }
        assert!(Nik::parse("3171012902000001").is_ok(), "29 Feb 2000 exists");
    }

    #[test]
    fn lenient_parse_strips_pasted_separators() {
        assert!(Nik::parse_lenient(" 3171-0145-0890-0001 ").is_ok());
        assert!(Nik::parse_lenient("3171 0145 0890 0001").is_ok());
    }

    #[test]
    fn consistency_is_reported_not_enforced() {
        let nik = Nik::parse("3171014508900001").unwrap();
        let ok = nik.consistency(Date::new(1990, 8, 5), Some(Gender::Female));
        assert!(ok.is_consistent());
        let bad = nik.consistency(Date::new(1990, 8, 6), Some(Gender::Male));
        assert_eq!(bad, NikConsistency { date_of_birth: Some(false), gender: Some(false) });
        assert_eq!(nik.consistency(None, None), NikConsistency::default());
    }

    #[test]
    fn masks() {
        assert_eq!(mask_nik("3171014508900001"), "317101******0001");
        assert_eq!(mask_nik("12345"), "*****");
    }
}
