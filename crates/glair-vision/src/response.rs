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
/// personal data: only statuses, the reason and the request ids.
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
    /// The caller's correlation id, sent as `x-request-id`
    /// ([`crate::RequestOptions::request_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<String>,
}

/// The documented body. The docs call the per-field object `result` in samples
/// and `data` in the object description: accept both. Every part is required.
#[derive(Deserialize)]
struct WireBody {
    verification_status: bool,
    reason: String,
    #[serde(alias = "data")]
    result: StrictFieldResults,
}

/// The per-field object, read strictly: every value must be a bool or null, even
/// for keys the SDK does not know (a string where a status belongs is not an answer).
struct StrictFieldResults(FieldResults);

impl<'de> Deserialize<'de> for StrictFieldResults {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StrictFieldResults;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of field statuses (bool or null)")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = FieldResults::default();
                while let Some(FieldKey(field)) = map.next_key()? {
                    let value: Option<bool> = map.next_value()?;
                    if let Some(field) = field {
                        out.set(field, value);
                    }
                }
                Ok(StrictFieldResults(out))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// A key of the per-field object, matched without allocating; `None` when unknown.
struct FieldKey(Option<Field>);

impl<'de> Deserialize<'de> for FieldKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = FieldKey;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FieldKey, E> {
                Ok(FieldKey(Field::from_wire_name(v)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

impl Verification {
    /// Reads a 2xx body; `Err` says why it is not an answer to rely on. Required:
    /// a JSON object with `verification_status` (bool), `reason` (string) and
    /// `result` or `data` (an object of bool-or-null). A positive answer must
    /// also show that something was checked: at least one field `true` and none
    /// `false`. A KYC decision never rests on less.
    pub(crate) fn from_body(body: &[u8], request_id: Option<String>) -> Result<Verification, &'static str> {
        let wire: WireBody = serde_json::from_slice(body).map_err(|_| {
            "response body is not a verification result (a JSON object with verification_status, \
             reason and result)"
        })?;
        let result = wire.result.0;
        if wire.verification_status {
            if result.mismatched().next().is_some() {
                return Err("verification_status is true but a field is false");
            }
            if !result.iter().any(|(_, v)| v == Some(true)) {
                return Err("verification_status is true but no field is true");
            }
        }
        Ok(Verification {
            verification_status: wire.verification_status,
            reason: wire.reason,
            result,
            request_id,
            client_request_id: None,
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
        assert!(Verification::from_body(b"<html></html>", None).is_err());
        assert!(Verification::from_body(b"", None).is_err());
        assert!(Verification::from_body(br#"{"reason":"x"}"#, None).is_err());
        assert!(Verification::from_body(br#"{"verification_status":"yes"}"#, None).is_err());
    }

    #[test]
    fn half_answers_are_refused() {
        let refused: [&[u8]; 8] = [
            br#"{"verification_status":true,"reason":"ok"}"#,
            br#"{"verification_status":true,"reason":"ok","result":{}}"#,
            br#"{"verification_status":true,"reason":"ok","result":{"nik":null,"name":null}}"#,
            br#"{"verification_status":true,"reason":"ok","result":{"nik":true,"name":false}}"#,
            br#"{"verification_status":true,"result":{"nik":true}}"#,
            br#"{"verification_status":false,"reason":"no","result":null}"#,
            br#"{"verification_status":true,"reason":"ok","result":{"nik":true,"extra":"yes"}}"#,
            br#"[{"verification_status":true,"reason":"ok","result":{"nik":true}}]"#,
        ];
        for body in refused {
            assert!(Verification::from_body(body, None).is_err(), "{}", String::from_utf8_lossy(body));
        }
        // A negative answer need not name a field; unknown keys with statuses are fine.
        let v = Verification::from_body(br#"{"verification_status":false,"reason":"no","data":{}}"#, None);
        assert!(v.is_ok());
        let v = Verification::from_body(
            br#"{"verification_status":true,"reason":"ok","result":{"nik":true,"extra":null}}"#,
            None,
        );
        assert_eq!(v.unwrap().result.nik, Some(true));
    }
}
