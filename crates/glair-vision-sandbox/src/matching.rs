//! Comparing what a caller sent with the registry, field by field, and the reason
//! strings the API answers with.

use glair_vision::normalize::parse_marital_status;
use glair_vision::{Date, Field, FieldResults, Gender};

use crate::record::Record;

/// Compares one sent value with the registry's. Structured fields compare exactly
/// (after parsing); free text by similarity against `threshold`.
pub fn field_matches(field: Field, sent: &str, registered: &str, threshold: f64) -> bool {
    // Both sides are in wire form, so the common case (a faithful copy) needs no parsing.
    if sent == registered {
        return true;
    }
    match field {
        Field::Nik | Field::NoKk => digits_only(sent) == digits_only(registered),
        Field::DateOfBirth => same_parsed(sent, registered, Date::parse_dmy),
        Field::Gender => same_parsed(sent, registered, Gender::parse),
        Field::MaritalStatus => same_parsed(sent, registered, parse_marital_status),
        Field::Rt | Field::Rw => match (sent.trim().parse::<u32>(), registered.trim().parse::<u32>()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        },
        Field::JobType | Field::Province | Field::City | Field::District | Field::Subdistrict => {
            fold(sent) == fold(registered)
        }
        Field::Name | Field::MotherMaidenName | Field::PlaceOfBirth | Field::Address => {
            similarity(&fold(sent), &fold(registered)) >= threshold
        }
    }
}

/// Both values parse, to the same thing.
fn same_parsed<T: PartialEq>(sent: &str, registered: &str, parse: impl Fn(&str) -> Option<T>) -> bool {
    parse(sent).is_some_and(|v| parse(registered) == Some(v))
}

/// Checks every sent field against `person`. Fields not sent stay `None`.
pub fn compare(sent: &[(Field, String)], person: &Record, threshold: f64) -> FieldResults {
    let mut results = FieldResults::default();
    for (field, value) in sent {
        let matched = person.get(*field).is_some_and(|reg| field_matches(*field, value, reg, threshold));
        results.set(*field, Some(matched));
    }
    results
}

/// "Verification Success", "Name does not match", "Name and date of birth do not
/// match", "Name, date of birth and address do not match".
pub fn reason(results: &FieldResults) -> String {
    let labels: Vec<String> = results
        .mismatched()
        .enumerate()
        .map(|(i, f)| if i == 0 { f.label().to_owned() } else { lower_first(f.label()) })
        .collect();
    match labels.as_slice() {
        [] => "Verification Success".to_owned(),
        [one] => format!("{one} does not match"),
        [init @ .., last] => format!("{} and {last} do not match", init.join(", ")),
    }
}

/// "Date of birth" -> "date of birth"; acronyms ("RT", "KK number") stay.
fn lower_first(label: &str) -> String {
    let mut chars = label.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if second.is_lowercase() => {
            first.to_lowercase().chain(label[first.len_utf8()..].chars()).collect()
        }
        _ => label.to_owned(),
    }
}

/// Uppercase, punctuation to spaces, whitespace collapsed: "Jl. Merdeka, no.1" and
/// "JL MERDEKA NO 1" fold alike.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_uppercase());
        } else {
            pending_space = true;
        }
    }
    out
}

fn digits_only(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// 1 - Levenshtein distance / longer length, over characters.
pub fn similarity(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    1.0 - prev[b.len()] as f64 / longest as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_tolerates_case_punctuation_and_typos() {
        assert!(field_matches(Field::Name, "siti rahayu", "SITI RAHAYU", 0.85));
        assert!(field_matches(Field::Name, "Siti Rahayoe", "SITI RAHAYU", 0.8));
        assert!(!field_matches(Field::Name, "BUDI SANTOSO", "SITI RAHAYU", 0.85));
        assert!(field_matches(Field::Address, "Jl Merdeka, No 1", "JL. MERDEKA NO. 1", 0.85));
    }

    #[test]
    fn structured_fields_compare_exactly() {
        assert!(field_matches(Field::Rt, "1", "001", 0.85));
        assert!(!field_matches(Field::Rt, "002", "001", 0.85));
        assert!(field_matches(Field::Gender, "P", "PEREMPUAN", 0.85));
        assert!(field_matches(Field::MaritalStatus, "married", "KAWIN", 0.85));
        assert!(!field_matches(Field::DateOfBirth, "06-08-1990", "05-08-1990", 0.85));
        assert!(!field_matches(Field::City, "JAKARTA PUSAT X", "JAKARTA PUSAT", 0.85));
    }

    #[test]
    fn reasons_name_every_mismatch() {
        let mut r = FieldResults { nik: Some(true), ..Default::default() };
        assert_eq!(reason(&r), "Verification Success");
        r.name = Some(false);
        assert_eq!(reason(&r), "Name does not match");
        r.date_of_birth = Some(false);
        assert_eq!(reason(&r), "Name and date of birth do not match");
        r.address = Some(false);
        r.rt = Some(false);
        assert_eq!(reason(&r), "Name, date of birth, address and RT do not match");
    }

    #[test]
    fn fold_normalises_case_punctuation_and_spacing() {
        assert_eq!(fold("  Jl. Merdeka,  no.1 "), "JL MERDEKA NO 1");
        assert_eq!(fold("..."), "");
        assert_eq!(fold("straße"), "STRASSE");
    }

    #[test]
    fn similarity_bounds() {
        assert_eq!(similarity("", ""), 1.0);
        assert_eq!(similarity("ABC", "ABC"), 1.0);
        assert_eq!(similarity("ABC", "XYZ"), 0.0);
    }
}
