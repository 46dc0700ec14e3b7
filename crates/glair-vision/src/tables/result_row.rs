//! One row of the result schema, flattened from a call's outcome.

use crate::error::{Error, ErrorKind};
use crate::field::Field;
use crate::response::{FieldResults, Verification};

/// The result columns after the kept ones, in order (see the module docs).
pub const RESULT_COLUMNS: [&str; 22] = [
    "outcome",
    "verification_status",
    "reason",
    "result_nik",
    "result_name",
    "result_date_of_birth",
    "result_no_kk",
    "result_mother_maiden_name",
    "result_place_of_birth",
    "result_address",
    "result_gender",
    "result_marital_status",
    "result_job_type",
    "result_province",
    "result_city",
    "result_district",
    "result_subdistrict",
    "result_rt",
    "result_rw",
    "error_kind",
    "error_message",
    "request_id",
];

/// The result column of one field: `result_` and its wire name.
pub const fn field_result_column(field: Field) -> &'static str {
    RESULT_COLUMNS[3 + field.index()]
}

/// How a row ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Verified,
    NotVerified,
    Error,
}

impl Outcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::NotVerified => "not_verified",
            Outcome::Error => "error",
        }
    }

    pub fn from_code(code: &str) -> Option<Outcome> {
        match code {
            "verified" => Some(Outcome::Verified),
            "not_verified" => Some(Outcome::NotVerified),
            "error" => Some(Outcome::Error),
            _ => None,
        }
    }
}

/// One row of the result schema. Borrows from the outcome it flattens.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultRow<'a> {
    pub outcome: Outcome,
    /// `None` when the row is an error.
    pub verification_status: Option<bool>,
    pub reason: Option<&'a str>,
    /// All `None` when the row is an error.
    pub fields: FieldResults,
    pub error_kind: Option<ErrorKind>,
    /// The error's message; like every error of this crate it never repeats an
    /// input value.
    pub error_message: Option<String>,
    pub request_id: Option<&'a str>,
}

impl<'a> ResultRow<'a> {
    pub fn from_verification(v: &'a Verification) -> ResultRow<'a> {
        ResultRow {
            outcome: if v.verification_status { Outcome::Verified } else { Outcome::NotVerified },
            verification_status: Some(v.verification_status),
            reason: Some(&v.reason),
            fields: v.result,
            error_kind: None,
            error_message: None,
            request_id: v.request_id.as_deref(),
        }
    }

    pub fn from_error(e: &'a Error) -> ResultRow<'a> {
        ResultRow {
            outcome: Outcome::Error,
            verification_status: None,
            reason: e.reason(),
            fields: FieldResults::default(),
            error_kind: Some(e.kind()),
            error_message: Some(e.to_string()),
            request_id: e.request_id(),
        }
    }

    pub fn from_result(result: &'a Result<Verification, Error>) -> ResultRow<'a> {
        match result {
            Ok(v) => ResultRow::from_verification(v),
            Err(e) => ResultRow::from_error(e),
        }
    }

    /// The field result columns' values, in [`Field::ALL`] order.
    pub fn field_values(&self) -> [Option<bool>; 16] {
        Field::ALL.map(|f| self.fields.get(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ValidationError;

    #[test]
    fn field_columns_line_up_with_fields() {
        for field in Field::ALL {
            assert_eq!(field_result_column(field), format!("result_{}", field.wire_name()));
        }
        assert_eq!(RESULT_COLUMNS[0], "outcome");
        assert_eq!(RESULT_COLUMNS[21], "request_id");
    }

    #[test]
    fn verification_and_error_rows() {
        let mut result = FieldResults::default();
        result.set(Field::Name, Some(false));
        let v = Verification {
            verification_status: false,
            reason: "Name does not match".into(),
            result,
            request_id: Some("r-1".into()),
            client_request_id: None,
        };
        let row = ResultRow::from_verification(&v);
        assert_eq!(row.outcome, Outcome::NotVerified);
        assert_eq!(row.verification_status, Some(false));
        assert_eq!(row.field_values()[Field::Name.index()], Some(false));
        assert_eq!(row.field_values()[Field::Nik.index()], None);

        let e: Error = ValidationError::new(Field::Nik, "must be 16 digits").into();
        let row = ResultRow::from_error(&e);
        assert_eq!(row.outcome, Outcome::Error);
        assert_eq!(row.verification_status, None);
        assert_eq!(row.error_kind, Some(ErrorKind::Validation));
        assert!(row.error_message.unwrap().contains("nik"));
        assert_eq!(Outcome::from_code(row.outcome.as_str()), Some(Outcome::Error));
    }
}
