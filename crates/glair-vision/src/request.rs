//! The verification request: `nik` plus fifteen optional fields.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::date::Date;
use crate::error::ValidationError;
use crate::field::Field;
use crate::nik::{mask_nik, Gender, Nik, NikConsistency};
use crate::normalize::{normalize_field, parse_date_of_birth};

/// What to verify. Values are kept as given until [`VerificationRequest::normalized`]
/// validates them and turns them into their wire form (the client does this before
/// every send). `Debug` shows which fields are set, never their values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct VerificationRequest {
    values: [Option<String>; 16],
}

macro_rules! field_setters {
    ($($method:ident => $field:ident),* $(,)?) => {
        impl VerificationRequest {
            $(
                #[doc = concat!("Sets `", stringify!($method), "`.")]
                pub fn $method(mut self, value: impl Into<String>) -> Self {
                    self.set(Field::$field, value);
                    self
                }
            )*
        }
        impl VerificationRequestBuilder {
            $(
                #[doc = concat!("Sets `", stringify!($method), "`.")]
                pub fn $method(mut self, value: impl Into<String>) -> Self {
                    self.request.set(Field::$field, value);
                    self
                }
            )*
        }
    };
}

field_setters! {
    name => Name,
    date_of_birth => DateOfBirth,
    no_kk => NoKk,
    mother_maiden_name => MotherMaidenName,
    place_of_birth => PlaceOfBirth,
    address => Address,
    gender => Gender,
    marital_status => MaritalStatus,
    job_type => JobType,
    province => Province,
    city => City,
    district => District,
    subdistrict => Subdistrict,
    rt => Rt,
    rw => Rw,
}

impl VerificationRequest {
    /// A request for `nik`; chain the field methods to add more.
    pub fn new(nik: impl Into<String>) -> Self {
        let mut request = VerificationRequest::default();
        request.set(Field::Nik, nik);
        request
    }

    /// A builder whose `build()` validates and normalises.
    pub fn builder(nik: impl Into<String>) -> VerificationRequestBuilder {
        VerificationRequestBuilder { request: VerificationRequest::new(nik) }
    }

    /// The NIK as given ("" when unset).
    pub fn nik(&self) -> &str {
        self.get(Field::Nik).unwrap_or("")
    }

    pub fn get(&self, field: Field) -> Option<&str> {
        self.values[field.index()].as_deref()
    }

    pub fn set(&mut self, field: Field, value: impl Into<String>) {
        self.values[field.index()] = Some(value.into());
    }

    pub fn clear(&mut self, field: Field) {
        self.values[field.index()] = None;
    }

    /// The fields that are set, in documentation order.
    pub fn fields(&self) -> impl Iterator<Item = (Field, &str)> + '_ {
        Field::ALL.into_iter().filter_map(|f| self.get(f).map(|v| (f, v)))
    }

    /// Checks every set field and returns the request in wire form. The first
    /// problem, in documentation order, is reported with the field's name.
    pub fn normalized(&self) -> Result<VerificationRequest, ValidationError> {
        if self.get(Field::Nik).is_none() {
            return Err(ValidationError::new(Field::Nik, "is required"));
        }
        let mut out = VerificationRequest::default();
        for (field, raw) in self.fields() {
            out.set(field, normalize_field(field, raw)?);
        }
        Ok(out)
    }

    /// Offline check of the NIK's embedded birth date and gender against the
    /// request's `date_of_birth` and `gender` (see [`Nik::consistency`]).
    pub fn nik_consistency(&self) -> Result<NikConsistency, ValidationError> {
        let nik = Nik::parse_lenient(self.nik())?;
        let dob: Option<Date> = self.get(Field::DateOfBirth).map(parse_date_of_birth).transpose()?;
        let gender = match self.get(Field::Gender) {
            Some(g) => Some(
                Gender::parse(g)
                    .ok_or_else(|| ValidationError::new(Field::Gender, "must be LAKI-LAKI or PEREMPUAN"))?,
            ),
            None => None,
        };
        Ok(nik.consistency(dob, gender))
    }
}

/// Builds a [`VerificationRequest`]; `build()` validates and normalises it.
#[derive(Clone, Default)]
pub struct VerificationRequestBuilder {
    request: VerificationRequest,
}

impl VerificationRequestBuilder {
    pub fn build(self) -> Result<VerificationRequest, ValidationError> {
        self.request.normalized()
    }
}

impl fmt::Debug for VerificationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("VerificationRequest");
        for (field, value) in self.fields() {
            match field {
                Field::Nik => s.field("nik", &mask_nik(value)),
                _ => s.field(field.wire_name(), &format_args!("<redacted>")),
            };
        }
        s.finish()
    }
}

impl fmt::Debug for VerificationRequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.request.fmt(f)
    }
}

/// Serialises as a map of wire names to values (set fields only).
impl Serialize for VerificationRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (field, value) in self.fields() {
            map.serialize_entry(field.wire_name(), value)?;
        }
        map.end()
    }
}

/// Reads a map of wire names. Unknown keys are an error; `null` and `""` mean unset
/// (as an empty CSV cell does). Numbers are taken as their decimal text for the
/// digit fields (`rt: 1`), since JSON and CSV tools produce them.
impl<'de> Deserialize<'de> for VerificationRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RequestVisitor;
        impl<'de> Visitor<'de> for RequestVisitor {
            type Value = VerificationRequest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of verification field names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut request = VerificationRequest::default();
                while let Some(key) = map.next_key::<String>()? {
                    let field = Field::from_wire_name(&key)
                        .ok_or_else(|| de::Error::custom(format!("unknown field `{key}`")))?;
                    let value = match map.next_value::<serde_json::Value>()? {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) if s.is_empty() => None,
                        serde_json::Value::String(s) => Some(s),
                        serde_json::Value::Number(n) if n.is_u64() => Some(n.to_string()),
                        _ => {
                            return Err(de::Error::custom(format!("`{key}` must be a string")));
                        }
                    };
                    if let Some(v) = value {
                        request.set(field, v);
                    }
                }
                Ok(request)
            }
        }
        deserializer.deserialize_map(RequestVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_normalises_every_field() {
        let req = VerificationRequest::builder(" 3171-0145-0890-0001 ")
            .name(" Siti  Rahayu ")
            .date_of_birth("1990-08-05")
            .no_kk("3171012345678901")
            .mother_maiden_name("Aminah")
            .place_of_birth("Jakarta")
            .address("Jl. Merdeka No. 1")
            .gender("F")
            .marital_status("married")
            .job_type("Karyawan Swasta")
            .province("DKI Jakarta")
            .city("Jakarta Pusat")
            .district("Gambir")
            .subdistrict("Gambir")
            .rt("1")
            .rw("2")
            .build()
            .unwrap();
        assert_eq!(req.fields().count(), 16);
        assert_eq!(req.nik(), "3171014508900001");
        assert_eq!(req.get(Field::Name), Some("Siti Rahayu"));
        assert_eq!(req.get(Field::DateOfBirth), Some("05-08-1990"));
        assert_eq!(req.get(Field::Gender), Some("PEREMPUAN"));
        assert_eq!(req.get(Field::MaritalStatus), Some("KAWIN"));
        assert_eq!(req.get(Field::Rt), Some("001"));
        assert_eq!(req.normalized().unwrap(), req, "normalising is idempotent");
    }

    #[test]
    fn reports_the_first_bad_field() {
        let err = VerificationRequest::new("3171014508900001")
            .date_of_birth("31-02-1990")
            .rt("abcd")
            .normalized()
            .unwrap_err();
        assert_eq!(err.field(), "date_of_birth");
        let err = VerificationRequest::default().name("x").normalized().unwrap_err();
        assert_eq!(err.field(), "nik");
    }

    #[test]
    fn debug_hides_values() {
        let req = VerificationRequest::new("3171014508900001").name("Siti Rahayu");
        let shown = format!("{req:?}");
        assert_eq!(shown, r#"VerificationRequest { nik: "317101******0001", name: <redacted> }"#);
    }

    #[test]
    fn serde_uses_wire_names() {
        let req: VerificationRequest =
            serde_json::from_str(r#"{"nik":"3171014508900001","name":"A","rt":1,"rw":"","city":null}"#)
                .unwrap();
        assert_eq!(req.get(Field::Rt), Some("1"));
        assert_eq!(req.get(Field::Rw), None);
        assert_eq!(serde_json::to_string(&req).unwrap(), r#"{"nik":"3171014508900001","name":"A","rt":"1"}"#);
        let err = serde_json::from_str::<VerificationRequest>(r#"{"nik":"1","nama":"A"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `nama`"));
        assert!(serde_json::from_str::<VerificationRequest>(r#"{"nik":true}"#).is_err());
    }

    #[test]
    fn consistency_check_is_offline_and_lenient() {
        let req = VerificationRequest::new("3171014508900001").date_of_birth("06-08-1990").gender("P");
        let c = req.nik_consistency().unwrap();
        assert_eq!(c.date_of_birth, Some(false));
        assert_eq!(c.gender, Some(true));
        assert!(req.normalized().is_ok(), "a disagreeing NIK is not rejected");
    }
}
