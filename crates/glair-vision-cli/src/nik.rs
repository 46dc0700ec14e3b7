//! `glair-vision nik`: parse and check a NIK offline.

use glair_vision::normalize::parse_date_of_birth;
use glair_vision::{Field, Gender, Nik, NikConsistency, ValidationError};
use serde::Serialize;

use crate::args::NikArgs;
use crate::output::{self, ErrorJson, EXIT_INPUT, EXIT_OK};

/// What a NIK encodes. The NIK itself is shown masked.
#[derive(Serialize, Debug, PartialEq)]
pub struct NikReport {
    pub valid: bool,
    pub nik: String,
    pub province_code: String,
    pub regency_code: String,
    pub district_code: String,
    pub region_code: String,
    /// ISO `yyyy-mm-dd`; the century is settled by `--date-of-birth` when given.
    pub birth_date: Option<String>,
    pub gender: &'static str,
    pub serial: String,
    pub consistency: ConsistencyReport,
}

#[derive(Serialize, Debug, PartialEq)]
pub struct ConsistencyReport {
    /// `null` when no date of birth was given to compare.
    pub date_of_birth: Option<bool>,
    /// `null` when no gender was given to compare.
    pub gender: Option<bool>,
    pub consistent: bool,
}

pub fn report(nik: &Nik, dob: Option<glair_vision::Date>, gender: Option<Gender>) -> NikReport {
    let c: NikConsistency = nik.consistency(dob, gender);
    NikReport {
        valid: true,
        nik: nik.masked(),
        province_code: format!("{:02}", nik.province_code()),
        regency_code: format!("{:02}", nik.regency_code()),
        district_code: format!("{:02}", nik.district_code()),
        region_code: nik.region_code().to_owned(),
        birth_date: nik.birth_date(dob).map(|d| d.to_string()),
        gender: nik.gender().as_ktp(),
        serial: format!("{:04}", nik.serial()),
        consistency: ConsistencyReport {
            date_of_birth: c.date_of_birth,
            gender: c.gender,
            consistent: c.is_consistent(),
        },
    }
}

pub fn run(args: NikArgs) -> u8 {
    let parsed = (|| -> Result<NikReport, ValidationError> {
        let nik = Nik::parse_lenient(&args.nik)?;
        let dob = args.date_of_birth.as_deref().map(parse_date_of_birth).transpose()?;
        let gender = match args.gender.as_deref() {
            Some(g) => Some(Gender::parse(g).ok_or_else(|| {
                ValidationError::new(Field::Gender, "must be LAKI-LAKI or PEREMPUAN (or L/P, M/F)")
            })?),
            None => None,
        };
        Ok(report(&nik, dob, gender))
    })();
    match parsed {
        Ok(report) => {
            if args.json {
                show!("{}", serde_json::to_string_pretty(&report).expect("serialisable"));
            } else {
                show_text!(render(&report));
            }
            EXIT_OK
        }
        Err(e) => {
            let error = ErrorJson::validation(Some(e.field().to_owned()), e.to_string());
            if args.json {
                output::print_error(&error);
            } else {
                say!("error: {}", output::one_line(&error.message));
            }
            EXIT_INPUT
        }
    }
}

fn render(r: &NikReport) -> String {
    let check = |v: Option<bool>| match v {
        None => "not checked",
        Some(true) => "matches the NIK",
        Some(false) => "DOES NOT match the NIK",
    };
    let birth = r.birth_date.as_deref().unwrap_or("(no such date in the 1900s or 2000s up to today)");
    format!(
        "NIK            {nik} (valid)\n\
         province code  {p}\n\
         regency code   {rg}\n\
         district code  {d}\n\
         region code    {region}\n\
         birth date     {birth}\n\
         gender         {gender}\n\
         serial         {serial}\n\
         date of birth  {dob}\n\
         gender check   {g}\n\
         consistent     {consistent}\n",
        nik = r.nik,
        p = r.province_code,
        rg = r.regency_code,
        d = r.district_code,
        region = r.region_code,
        gender = r.gender,
        serial = r.serial,
        dob = check(r.consistency.date_of_birth),
        g = check(r.consistency.gender),
        consistent = if r.consistency.consistent { "yes" } else { "no" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_parts_of_a_woman_s_nik() {
        let nik = Nik::parse("3171014508900001").unwrap();
        let r = report(&nik, None, Some(Gender::Male));
        assert_eq!(r.nik, "317101******0001");
        assert_eq!(r.region_code, "317101");
        assert_eq!(r.birth_date.as_deref(), Some("1990-08-05"));
        assert_eq!(r.gender, "PEREMPUAN");
        assert_eq!(r.serial, "0001");
        assert_eq!(r.consistency.gender, Some(false));
        assert!(!r.consistency.consistent);
        let text = render(&r);
        assert!(text.contains("birth date     1990-08-05"));
        assert!(!text.contains("3171014508900001"));
    }
}
