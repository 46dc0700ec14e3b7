//! Field-by-field validation and normalisation to the wire form. Shared by the
//! client (before sending) and the sandbox (on receipt), so both agree.

use crate::date::Date;
use crate::error::ValidationError;
use crate::field::Field;
use crate::nik::{Gender, Nik};

/// Longest accepted free-text value per field, in characters.
pub const fn max_len(field: Field) -> usize {
    match field {
        Field::Address => 255,
        Field::Nik | Field::NoKk => 16,
        Field::DateOfBirth => 10,
        Field::Rt | Field::Rw => 3,
        _ => 100,
    }
}

/// Marital status as written on a KTP, with English aliases accepted.
pub fn parse_marital_status(s: &str) -> Option<&'static str> {
    let upper = collapse_whitespace(s).to_ascii_uppercase().replace(['_', '-'], " ");
    Some(match upper.as_str() {
        "BELUM KAWIN" | "SINGLE" | "UNMARRIED" | "NOT MARRIED" => "BELUM KAWIN",
        "KAWIN" | "MARRIED" => "KAWIN",
        "CERAI HIDUP" | "DIVORCED" => "CERAI HIDUP",
        "CERAI MATI" | "WIDOWED" | "WIDOW" | "WIDOWER" => "CERAI MATI",
        _ => return None,
    })
}

/// Parses a date of birth as users and bindings give it: `dd-mm-yyyy` (also with
/// `/` or `.`), or ISO `yyyy-mm-dd`. Must be a real date, not in the future.
pub fn parse_date_of_birth(s: &str) -> Result<Date, ValidationError> {
    let s = s.trim();
    let dmy = s.replace(['/', '.'], "-");
    let date = Date::parse_dmy(&dmy).or_else(|| Date::parse_iso(s)).ok_or_else(|| {
        ValidationError::new(Field::DateOfBirth, "must be a real date as dd-mm-yyyy (or yyyy-mm-dd)")
    })?;
    if date.year() < 1850 {
        return Err(ValidationError::new(Field::DateOfBirth, "must not be before 1850"));
    }
    if date > Date::today() {
        return Err(ValidationError::new(Field::DateOfBirth, "must not be in the future"));
    }
    Ok(date)
}

/// Validates one field's value and returns it in the form sent on the wire.
/// Error messages never repeat the value: it is personal data.
pub fn normalize_field(field: Field, raw: &str) -> Result<String, ValidationError> {
    let err = |msg: &str| ValidationError::new(field, msg);
    match field {
        Field::Nik => Ok(Nik::parse_lenient(raw)?.as_str().to_owned()),
        Field::DateOfBirth => Ok(parse_date_of_birth(raw)?.to_dmy()),
        Field::NoKk => {
            let digits: String = raw.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '.')).collect();
            if digits.len() != 16 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("must be exactly 16 digits"));
            }
            Ok(digits)
        }
        Field::Rt | Field::Rw => {
            let t = raw.trim();
            if t.is_empty() || t.len() > 3 || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("must be 1 to 3 digits"));
            }
            Ok(format!("{:0>3}", t))
        }
        Field::Gender => Gender::parse(raw)
            .map(|g| g.as_ktp().to_owned())
            .ok_or_else(|| err("must be LAKI-LAKI or PEREMPUAN (or L/P, male/female, M/F)")),
        Field::MaritalStatus => parse_marital_status(raw).map(str::to_owned).ok_or_else(|| {
            err("must be BELUM KAWIN, KAWIN, CERAI HIDUP or CERAI MATI (or single, married, divorced, widowed)")
        }),
        Field::Name
        | Field::MotherMaidenName
        | Field::PlaceOfBirth
        | Field::Address
        | Field::JobType
        | Field::Province
        | Field::City
        | Field::District
        | Field::Subdistrict => normalize_text(field, raw),
    }
}

fn normalize_text(field: Field, raw: &str) -> Result<String, ValidationError> {
    // Tabs and newlines from a pasted address are whitespace, not control data.
    if raw.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return Err(ValidationError::new(field, "must not contain control characters"));
    }
    let text = collapse_whitespace(raw);
    if text.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    let len = text.chars().count();
    if len > max_len(field) {
        return Err(ValidationError::new(
            field,
            format!("must be at most {} characters (got {len})", max_len(field)),
        ));
    }
    Ok(text)
}

/// Trims and folds every run of whitespace into one space.
pub fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(field: Field, raw: &str) -> String {
        normalize_field(field, raw).unwrap()
    }

    fn bad(field: Field, raw: &str) -> ValidationError {
        let e = normalize_field(field, raw).unwrap_err();
        assert_eq!(e.field(), field.wire_name());
        e
    }

    #[test]
    fn structured_fields_take_their_wire_form() {
        assert_eq!(ok(Field::Nik, "3171 0145 0890 0001"), "3171014508900001");
        assert_eq!(ok(Field::DateOfBirth, "1990-08-05"), "05-08-1990");
        assert_eq!(ok(Field::DateOfBirth, "05/08/1990"), "05-08-1990");
        assert_eq!(ok(Field::DateOfBirth, " 05-08-1990 "), "05-08-1990");
        assert_eq!(ok(Field::NoKk, "3171-0123-4567-8901"), "3171012345678901");
        assert_eq!(ok(Field::Rt, "1"), "001");
        assert_eq!(ok(Field::Rw, "12"), "012");
        assert_eq!(ok(Field::Gender, "p"), "PEREMPUAN");
        assert_eq!(ok(Field::Gender, "Male"), "LAKI-LAKI");
        assert_eq!(ok(Field::MaritalStatus, "widowed"), "CERAI MATI");
        assert_eq!(ok(Field::MaritalStatus, "belum  kawin"), "BELUM KAWIN");
    }

    #[test]
    fn free_text_is_trimmed_and_collapsed() {
        assert_eq!(ok(Field::Name, "  Siti \t Rahayu "), "Siti Rahayu");
        assert_eq!(ok(Field::Address, "Jl. Merdeka\nNo. 1"), "Jl. Merdeka No. 1");
    }

    #[test]
    fn rejects_bad_values_without_echoing_them() {
        let e = bad(Field::DateOfBirth, "31-02-1990");
        assert!(!e.to_string().contains("31-02-1990"));
        bad(Field::DateOfBirth, "05-08-2999");
        bad(Field::DateOfBirth, "1990/08/05x");
        bad(Field::NoKk, "123");
        bad(Field::Rt, "1234");
        bad(Field::Rt, "");
        bad(Field::Rw, "a1");
        bad(Field::Gender, "X");
        bad(Field::MaritalStatus, "complicated");
        bad(Field::Name, "   ");
        bad(Field::Name, "Siti\u{0}Rahayu");
        bad(Field::Name, &"A".repeat(101));
        assert_eq!(ok(Field::Address, &"A".repeat(255)).len(), 255);
        bad(Field::Address, &"A".repeat(256));
    }
}
