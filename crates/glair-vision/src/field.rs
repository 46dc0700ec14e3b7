//! The sixteen fields of the Basic Verification endpoint, by their wire names.

use std::fmt;

/// One field of a KTP verification, as named on the wire.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Nik,
    Name,
    DateOfBirth,
    NoKk,
    MotherMaidenName,
    PlaceOfBirth,
    Address,
    Gender,
    MaritalStatus,
    JobType,
    Province,
    City,
    District,
    Subdistrict,
    Rt,
    Rw,
}

impl Field {
    /// Every field, in the order of the endpoint's documentation.
    pub const ALL: [Field; 16] = [
        Field::Nik,
        Field::Name,
        Field::DateOfBirth,
        Field::NoKk,
        Field::MotherMaidenName,
        Field::PlaceOfBirth,
        Field::Address,
        Field::Gender,
        Field::MaritalStatus,
        Field::JobType,
        Field::Province,
        Field::City,
        Field::District,
        Field::Subdistrict,
        Field::Rt,
        Field::Rw,
    ];

    /// The field's name in the request form and in the response's `result`.
    pub const fn wire_name(self) -> &'static str {
        match self {
            Field::Nik => "nik",
            Field::Name => "name",
            Field::DateOfBirth => "date_of_birth",
            Field::NoKk => "no_kk",
            Field::MotherMaidenName => "mother_maiden_name",
            Field::PlaceOfBirth => "place_of_birth",
            Field::Address => "address",
            Field::Gender => "gender",
            Field::MaritalStatus => "marital_status",
            Field::JobType => "job_type",
            Field::Province => "province",
            Field::City => "city",
            Field::District => "district",
            Field::Subdistrict => "subdistrict",
            Field::Rt => "rt",
            Field::Rw => "rw",
        }
    }

    /// A human label, as used in the API's reason strings ("Name does not match").
    pub const fn label(self) -> &'static str {
        match self {
            Field::Nik => "NIK",
            Field::Name => "Name",
            Field::DateOfBirth => "Date of birth",
            Field::NoKk => "KK number",
            Field::MotherMaidenName => "Mother maiden name",
            Field::PlaceOfBirth => "Place of birth",
            Field::Address => "Address",
            Field::Gender => "Gender",
            Field::MaritalStatus => "Marital status",
            Field::JobType => "Job type",
            Field::Province => "Province",
            Field::City => "City",
            Field::District => "District",
            Field::Subdistrict => "Subdistrict",
            Field::Rt => "RT",
            Field::Rw => "RW",
        }
    }

    /// Looks a field up by its wire name (exact, lowercase).
    pub fn from_wire_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.wire_name() == name)
    }

    /// Position of the field in [`Field::ALL`], for array-backed storage.
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_and_index_matches_position() {
        for (i, field) in Field::ALL.into_iter().enumerate() {
            assert_eq!(Field::from_wire_name(field.wire_name()), Some(field));
            assert_eq!(field.index(), i);
        }
        assert_eq!(Field::from_wire_name("NIK"), None);
    }
}
