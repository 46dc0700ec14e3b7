//! A first pass over the input, offline: which rows are valid, why the others are
//! not, and which valid rows repeat an earlier record (for `--dry-run` and
//! `--dedupe`). Keeps a 128-bit fingerprint per distinct record, never the records.

use std::collections::{BTreeMap, HashMap};

use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};

use glair_vision::VerificationRequest;

use crate::batch::input::{InputRow, RowReader};

/// What the first pass found.
#[derive(Default, Debug)]
pub struct Survey {
    pub rows: u64,
    pub valid: u64,
    /// Invalid rows by (field, reason); the reason never repeats the value.
    pub invalid: BTreeMap<(String, String), u64>,
    /// Valid rows whose record (normalised) equals an earlier valid row's.
    pub duplicates: u64,
    /// (duplicate row, the first row with its record), by row (kept only for a
    /// dedupe run; a dry run needs the count alone).
    pub duplicate_of: Duplicates,
    /// Rows a real run would send: valid, not skipped, and (with dedupe) not a duplicate.
    pub to_send: u64,
}

/// Duplicate rows and their first rows, sorted by row (read in order): 16 bytes a
/// duplicate, looked up by binary search.
#[derive(Default, Debug)]
pub struct Duplicates(Vec<(u64, u64)>);

impl Duplicates {
    /// The first row `row` repeats, if it is a duplicate.
    pub fn first_of(&self, row: u64) -> Option<u64> {
        self.0.binary_search_by_key(&row, |(r, _)| *r).ok().map(|i| self.0[i].1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.0.iter().copied()
    }
}

impl Survey {
    pub fn invalid_count(&self) -> u64 {
        self.invalid.values().sum()
    }
}

/// A record's fingerprint: two independent 64-bit hashes of its normalised fields
/// (a pair of u64, not a u128: 24-byte map entries instead of 32).
type Fingerprint = (u64, u64);

/// Fingerprints are hashes already: the map uses their first half as it is.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        if self.0 == 0 {
            self.0 = n;
        }
    }
}

fn fingerprint(request: &VerificationRequest) -> Fingerprint {
    let hash = |seed: u64| {
        let mut h = DefaultHasher::new();
        seed.hash(&mut h);
        for (field, value) in request.fields() {
            field.wire_name().hash(&mut h);
            value.hash(&mut h);
        }
        h.finish()
    };
    (hash(0x676c_6169_725f_0001), hash(0x676c_6169_725f_0002))
}

/// Why a row would fail before being sent, as (field, reason); `None` if it is valid.
/// The same checks the core runs before a call: the fields, then the correlation id.
pub fn check(row: &InputRow) -> Result<VerificationRequest, (String, String)> {
    let request = match &row.request {
        Ok(r) => r,
        Err(e) => return Err((e.field.clone().unwrap_or_else(|| "(row)".into()), e.message.clone())),
    };
    let normalized = request.normalized().map_err(|e| (e.field().to_owned(), e.message().to_owned()))?;
    if let Some(id) = &row.request_id {
        if let Err(e) = glair_vision::request_id_header(id) {
            let v = e.validation().expect("a bad id is a validation error");
            return Err((v.field().to_owned(), v.message().to_owned()));
        }
    }
    Ok(normalized)
}

/// Reads every row once. `skip` names rows a real run would not send (already done);
/// `dedupe` says whether duplicates would be sent; `pairs` whether to keep which row
/// each duplicate repeats. 1,000,000 distinct records take about 26 MB of map
/// (24-byte entries).
pub fn survey(
    mut reader: RowReader,
    skip: impl Fn(u64) -> bool,
    dedupe: bool,
    pairs: bool,
) -> Result<Survey, String> {
    let mut s = Survey::default();
    let mut first: HashMap<Fingerprint, u64, BuildHasherDefault<Prehashed>> = HashMap::default();
    while let Some(row) = reader.next(|_| false) {
        let row = row?;
        s.rows += 1;
        match check(&row) {
            Err(key) => *s.invalid.entry(key).or_default() += 1,
            Ok(normalized) => {
                s.valid += 1;
                let mut duplicate = false;
                match first.entry(fingerprint(&normalized)) {
                    std::collections::hash_map::Entry::Occupied(e) => {
                        duplicate = true;
                        s.duplicates += 1;
                        if pairs {
                            s.duplicate_of.0.push((row.row, *e.get()));
                        }
                    }
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(row.row);
                    }
                }
                let copied = dedupe && duplicate;
                if !skip(row.row) && !copied {
                    s.to_send += 1;
                }
            }
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use glair_vision::Field;

    #[test]
    fn fingerprints_follow_the_normalised_record() {
        let a =
            VerificationRequest::builder("3171014508900001").name(" Siti  Rahayu").rt("1").build().unwrap();
        let b = VerificationRequest::builder("3171-0145-0890-0001")
            .name("Siti Rahayu")
            .rt("001")
            .build()
            .unwrap();
        let mut c = b.clone();
        c.set(Field::Rt, "002");
        assert_eq!(fingerprint(&a), fingerprint(&b), "normalisation makes them one record");
        assert_ne!(fingerprint(&b), fingerprint(&c));
    }
}
