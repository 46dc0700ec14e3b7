//! The verification result and how it is read off the wire.

use serde::{Deserialize, Serialize};

use crate::field::Field;

/// Per-field verification status: `Some(true)` matches, `Some(false)` does not,
/// `None` was not sent or could not be checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FieldResults {
    pub nik: Option<bool>,
    pub name: Option<bool>,
    pub date_of_birth: Option<bool>,
    pub no_kk: Option<bool>,
    pub mother_maiden_name: Option<bool>,
    pub place_of_birth: Option<bool>,
    pub address: Option<bool>,
    pub gender: Option<bool>,
    pub marital_status: Option<bool>,
    pub job_type: Option<bool>,
    pub province: Option<bool>,
    pub city: Option<bool>,
    pub district: Option<bool>,
    pub subdistrict: Option<bool>,
    pub rt: Option<bool>,
    pub rw: Option<bool>,
}

impl FieldResults {
    pub fn get(&self, field: Field) -> Option<bool> {
        *self.slot(field)
    }

    pub fn set(&mut self, field: Field, value: Option<bool>) {
        *self.slot_mut(field) = value;
    }

    /// Every field with its status, in documentation order.
    pub fn iter(&self) -> impl Iterator<Item = (Field, Option<bool>)> + '_ {
        Field::ALL.into_iter().map(|f| (f, self.get(f)))
    }

    /// The fields that were checked and did not match.
    pub fn mismatched(&self) -> impl Iterator<Item = Field> + '_ {
        self.iter().filter(|(_, v)| *v == Some(false)).map(|(f, _)| f)
    }

    fn slot(&self, field: Field) -> &Option<bool> {
        match field {
            Field::Nik => &self.nik,
            Field::Name => &self.name,
            Field::DateOfBirth => &self.date_of_birth,
            Field::NoKk => &self.no_kk,
            Field::MotherMaidenName => &self.mother_maiden_name,
            Field::PlaceOfBirth => &self.place_of_birth,
            Field::Address => &self.address,
            Field::Gender => &self.gender,
            Field::MaritalStatus => &self.marital_status,
            Field::JobType => &self.job_type,
            Field::Province => &self.province,
            Field::City => &self.city,
            Field::District => &self.district,
            Field::Subdistrict => &self.subdistrict,
            Field::Rt => &self.rt,
            Field::Rw => &self.rw,
        }
    }

    fn slot_mut(&mut self, field: Field) -> &mut Option<bool> {
        match field {
            Field::Nik => &mut self.nik,
            Field::Name => &mut self.name,
            Field::DateOfBirth => &mut self.date_of_birth,
            Field::NoKk => &mut self.no_kk,
            Field::MotherMaidenName => &mut self.mother_maiden_name,
            Field::PlaceOfBirth => &mut self.place_of_birth,
            Field::Address => &mut self.address,
            Field::Gender => &mut self.gender,
            Field::MaritalStatus => &mut self.marital_status,
            Field::JobType => &mut self.job_type,
            Field::Province => &mut self.province,
            Field::City => &mut self.city,
            Field::District => &mut self.district,
            Field::Subdistrict => &mut self.subdistrict,
            Field::Rt => &mut self.rt,
            Field::Rw => &mut self.rw,
        }
    }
}

/// The outcome of one verification call that reached the registry. Holds no
/// personal data: only statuses, the reason and the request id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// True when every field sent matched the registry.
    pub verification_status: bool,
    /// The API's human-readable explanation.
    pub reason: String,
    /// Status per field; fields not sent are `None`.
    pub result: FieldResults,
    /// The `Request-Id` response header.
    pub request_id: Option<String>,
}

/// The documented body. The docs call the per-field object `result` in samples
/// and `data` in the object description: accept both.
#[derive(Deserialize)]
pub(crate) struct WireBody {
    pub verification_status: Option<bool>,
    pub reason: Option<String>,
    #[serde(alias = "data")]
    pub result: Option<FieldResults>,
}

impl Verification {
    /// Reads a 2xx body. `None` when it is not the documented shape.
    pub(crate) fn from_body(body: &[u8], request_id: Option<String>) -> Option<Verification> {
        let wire: WireBody = serde_json::from_slice(body).ok()?;
        Some(Verification {
            verification_status: wire.verification_status?,
            reason: wire.reason.unwrap_or_default(),
            result: wire.result.unwrap_or_default(),
            request_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_result_or_data() {
        let a = br#"{"verification_status":true,"reason":"Verification Success","result":{"nik":true,"name":true,"date_of_birth":true}}"#;
        let b = br#"{"verification_status":true,"reason":"Verification Success","data":{"nik":true,"name":true,"date_of_birth":true}}"#;
        let va = Verification::from_body(a, Some("r1".into())).unwrap();
        let vb = Verification::from_body(b, Some("r1".into())).unwrap();
        assert_eq!(va, vb);
        assert_eq!(va.result.name, Some(true));
        assert_eq!(va.result.address, None);
    }

    #[test]
    fn nulls_and_missing_fields_are_none() {
        let body = br#"{"verification_status":false,"reason":"NIK not found on Dukcapil database","result":{"nik":false,"name":null}}"#;
        let v = Verification::from_body(body, None).unwrap();
        assert_eq!(v.result.nik, Some(false));
        assert_eq!(v.result.name, None);
        assert_eq!(v.result.mismatched().collect::<Vec<_>>(), vec![Field::Nik]);
    }

    #[test]
    fn rejects_other_shapes() {
        assert!(Verification::from_body(b"<html></html>", None).is_none());
        assert!(Verification::from_body(b"", None).is_none());
        assert!(Verification::from_body(br#"{"reason":"x"}"#, None).is_none());
        assert!(Verification::from_body(br#"{"verification_status":"yes"}"#, None).is_none());
    }
}
