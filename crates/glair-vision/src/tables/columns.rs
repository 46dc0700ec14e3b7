//! Which input column feeds which wire field, which ones are kept, and which are
//! refused: one resolution for every tabular front door.

use std::collections::HashMap;

use crate::error::Error;
use crate::field::Field;

/// What the caller said about the input's columns. Resolved against a header
/// with [`ColumnMapping::resolve`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnMapping {
    map: Vec<(String, Field)>,
    keep: Vec<String>,
    request_id: Option<String>,
    ignore_unknown: bool,
}

/// What one input column is for. A column can be several things at once: a field
/// the caller also keeps, say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnRole {
    /// The wire field it is read into.
    pub field: Option<Field>,
    /// Copied into every result row, under its own name.
    pub keep: bool,
    /// The row's correlation id, sent as `x-request-id`.
    pub request_id: bool,
}

impl ColumnRole {
    /// Neither a field, nor kept, nor the correlation id: not read at all.
    pub fn is_ignored(&self) -> bool {
        self.field.is_none() && !self.keep && !self.request_id
    }
}

/// A header resolved against a [`ColumnMapping`]: one role per input column, in
/// input order, plus the kept columns in the caller's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedColumns {
    pub roles: Vec<ColumnRole>,
    /// Input column indexes to copy into the output, in the order asked for.
    pub keep: Vec<usize>,
    /// Input column index of the correlation id.
    pub request_id: Option<usize>,
}

impl ResolvedColumns {
    /// `(input column index, field)` for every column read into a field.
    pub fn fields(&self) -> impl Iterator<Item = (usize, Field)> + '_ {
        self.roles.iter().enumerate().filter_map(|(i, r)| r.field.map(|f| (i, f)))
    }
}

impl ColumnMapping {
    pub fn new() -> ColumnMapping {
        ColumnMapping::default()
    }

    /// Reads `field` from the column named `source` (`nama` for `name`, say).
    pub fn map(mut self, source: impl Into<String>, field: Field) -> ColumnMapping {
        self.map.push((source.into(), field));
        self
    }

    /// [`ColumnMapping::map`] with the field given by its wire name, as users type it.
    pub fn map_named(self, source: impl Into<String>, field: &str) -> Result<ColumnMapping, Error> {
        let f = Field::from_wire_name(field.trim()).ok_or_else(|| {
            Error::Configuration(format!(
                "`{}` is not a field name; the fields are: {}",
                field.trim(),
                wire_names()
            ))
        })?;
        Ok(self.map(source, f))
    }

    /// Copies the column into every result row, under its own name.
    pub fn keep(mut self, column: impl Into<String>) -> ColumnMapping {
        self.keep.push(column.into());
        self
    }

    /// Sends the column's value as the row's `x-request-id`.
    pub fn request_id_column(mut self, column: impl Into<String>) -> ColumnMapping {
        self.request_id = Some(column.into());
        self
    }

    /// Skips columns that are neither fields, kept, nor the correlation id,
    /// instead of refusing the input.
    pub fn ignore_unknown(mut self, ignore: bool) -> ColumnMapping {
        self.ignore_unknown = ignore;
        self
    }

    /// Resolves a header. Refused, as [`Error::Configuration`] naming the columns:
    /// a repeated column name; a mapped, kept or id column the header lacks; two
    /// columns for one field; no `nik` column; unknown columns (all of them
    /// listed) unless ignored. A header cell matches a field by its wire name,
    /// ignoring case and surrounding space; mapped and kept names match exactly
    /// (surrounding space and a byte-order mark aside).
    pub fn resolve<'h>(&self, header: impl IntoIterator<Item = &'h str>) -> Result<ResolvedColumns, Error> {
        let names: Vec<&str> = header.into_iter().map(clean).collect();
        let bad = |msg: String| Err(Error::Configuration(msg));

        let mut index = HashMap::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if index.insert(*name, i).is_some() {
                return bad(format!("column `{name}` appears twice"));
            }
        }
        let find = |name: &str, what: &str| match index.get(clean(name)) {
            Some(&i) => Ok(i),
            None => {
                Err(Error::Configuration(format!("{what} `{}` is not a column of the input", clean(name))))
            }
        };

        let mut roles = vec![ColumnRole::default(); names.len()];
        let mut source_of: HashMap<Field, usize> = HashMap::new();
        let mut assign = |roles: &mut [ColumnRole], i: usize, field: Field| -> Result<(), Error> {
            if let Some(&j) = source_of.get(&field) {
                if j != i {
                    return Err(Error::Configuration(format!(
                        "field `{}` would be read from both `{}` and `{}`",
                        field.wire_name(),
                        names[j],
                        names[i]
                    )));
                }
            }
            if let Some(other) = roles[i].field.filter(|f| *f != field) {
                return Err(Error::Configuration(format!(
                    "column `{}` is mapped to both `{}` and `{}`",
                    names[i],
                    other.wire_name(),
                    field.wire_name()
                )));
            }
            source_of.insert(field, i);
            roles[i].field = Some(field);
            Ok(())
        };

        for (source, field) in &self.map {
            let i = find(source, "mapped column")?;
            assign(&mut roles, i, *field)?;
        }
        for (i, name) in names.iter().enumerate() {
            let mapped_away = self.map.iter().any(|(s, _)| clean(s) == *name);
            if let (false, Some(field)) = (mapped_away, Field::from_wire_name(&name.to_ascii_lowercase())) {
                assign(&mut roles, i, field)?;
            }
        }
        let mut keep = Vec::with_capacity(self.keep.len());
        for column in &self.keep {
            let i = find(column, "kept column")?;
            if roles[i].keep {
                return bad(format!("column `{}` is kept twice", names[i]));
            }
            roles[i].keep = true;
            keep.push(i);
        }
        let request_id = match &self.request_id {
            Some(column) => {
                let i = find(column, "request id column")?;
                roles[i].request_id = true;
                Some(i)
            }
            None => None,
        };
        if !source_of.contains_key(&Field::Nik) {
            return bad(format!(
                "no column for `nik`: name one `nik` or map one to it (columns: {})",
                names.join(", ")
            ));
        }
        let unknown: Vec<&str> =
            roles.iter().zip(&names).filter(|(r, _)| r.is_ignored()).map(|(_, n)| *n).collect();
        if !unknown.is_empty() && !self.ignore_unknown {
            return bad(format!(
                "unknown column{} {}: map {} to a field, keep {}, or ignore unknown columns (fields: {})",
                if unknown.len() == 1 { "" } else { "s" },
                unknown.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
                if unknown.len() == 1 { "it" } else { "them" },
                if unknown.len() == 1 { "it" } else { "them" },
                wire_names()
            ));
        }
        Ok(ResolvedColumns { roles, keep, request_id })
    }
}

fn clean(name: &str) -> &str {
    name.trim_start_matches('\u{feff}').trim()
}

fn wire_names() -> String {
    Field::ALL.map(Field::wire_name).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: Error) -> String {
        match e {
            Error::Configuration(m) => m,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn wire_names_match_loosely() {
        let r = ColumnMapping::new().resolve(["\u{feff}NIK", " Name ", "rt"]).unwrap();
        let fields: Vec<_> = r.fields().collect();
        assert_eq!(fields, vec![(0, Field::Nik), (1, Field::Name), (2, Field::Rt)]);
        assert!(r.keep.is_empty() && r.request_id.is_none());
    }

    #[test]
    fn unknown_columns_are_all_listed_unless_ignored() {
        let m = message(ColumnMapping::new().resolve(["nik", "nama", "customer_id"]).unwrap_err());
        assert!(m.contains("`nama`") && m.contains("`customer_id`"), "{m}");
        let r = ColumnMapping::new().ignore_unknown(true).resolve(["nik", "nama"]).unwrap();
        assert!(r.roles[1].is_ignored());
    }

    #[test]
    fn map_keep_and_request_id() {
        let mapping = ColumnMapping::new()
            .map_named("nama", "name")
            .unwrap()
            .map("tanggal_lahir", Field::DateOfBirth)
            .keep("customer_id")
            .keep("nik")
            .request_id_column("customer_id");
        let r = mapping.resolve(["customer_id", "nik", "nama", "tanggal_lahir"]).unwrap();
        assert_eq!(
            r.fields().collect::<Vec<_>>(),
            vec![(1, Field::Nik), (2, Field::Name), (3, Field::DateOfBirth)]
        );
        assert_eq!(r.keep, vec![0, 1]);
        assert_eq!(r.request_id, Some(0));
        assert!(r.roles[1].keep && r.roles[1].field == Some(Field::Nik));
    }

    #[test]
    fn a_mapped_wire_name_column_is_not_also_its_own_field() {
        // `name` holds something else and is read as the mother's maiden name.
        let r =
            ColumnMapping::new().map_named("name", "mother_maiden_name").unwrap().resolve(["nik", "name"]);
        assert_eq!(r.unwrap().roles[1].field, Some(Field::MotherMaidenName));
    }

    #[test]
    fn refusals_name_the_columns() {
        let m = |mapping: ColumnMapping, header: &[&str]| {
            message(mapping.resolve(header.iter().copied()).unwrap_err())
        };
        assert!(m(ColumnMapping::new(), &["nik", "nik"]).contains("twice"));
        assert!(m(ColumnMapping::new(), &["name"]).contains("no column for `nik`"));
        assert!(m(ColumnMapping::new().keep("id"), &["nik"]).contains("`id`"));
        assert!(m(ColumnMapping::new().map("nama", Field::Name), &["nik", "name", "nama"]).contains("both"));
        assert!(message(ColumnMapping::new().map_named("x", "nama").unwrap_err()).contains("not a field"));
    }
}
