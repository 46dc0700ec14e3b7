//! Counting before spending: a pass over the rows of a job, offline, that says
//! which are valid, why the others are not (by field and reason, never the
//! value), which valid rows repeat an earlier record, and how many calls a real
//! run would make. The CLI's `--dry-run` and `--dedupe` and Python's
//! `verify_table(dry_run=True)` read it. Keeps a 128-bit fingerprint per
//! distinct record, never the records: 1,000,000 distinct records take about
//! 26 MB of map (24-byte entries).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};

use crate::client::request_id_header;
use crate::error::Error;
use crate::request::VerificationRequest;

/// What a pass found.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct Survey {
    pub rows: u64,
    pub valid: u64,
    /// Invalid rows by (field, reason); the reason never repeats the value.
    pub invalid: BTreeMap<(String, String), u64>,
    /// Valid rows whose record (normalised) equals an earlier valid row's.
    pub duplicates: u64,
    /// Rows a real run would send: valid, not skipped, and (with dedupe) not a duplicate.
    pub to_send: u64,
}

impl Survey {
    pub fn invalid_count(&self) -> u64 {
        self.invalid.values().sum()
    }

    /// The invalid rows by (field, reason), the most frequent first.
    pub fn invalid_by(&self) -> Vec<(&str, &str, u64)> {
        let mut by: Vec<(&str, &str, u64)> = self
            .invalid
            .iter()
            .map(|((field, reason), rows)| (field.as_str(), reason.as_str(), *rows))
            .collect();
        by.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
        by
    }
}

/// Duplicate rows and their first rows, sorted by row (added in order): 16 bytes
/// a duplicate, looked up by binary search.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct Duplicates(Vec<(u64, u64)>);

impl Duplicates {
    /// The first row `row` repeats, if it is a duplicate.
    pub fn first_of(&self, row: u64) -> Option<u64> {
        self.0.binary_search_by_key(&row, |(r, _)| *r).ok().map(|i| self.0[i].1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.0.iter().copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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

/// Why a row would fail before being sent, as (field, reason), or its normalised
/// request: the checks the core runs before a call (the fields, then the
/// correlation id). `request` is the row as read (an unreadable cell already
/// an error).
pub fn check(
    request: Result<&VerificationRequest, &Error>,
    request_id: Option<&str>,
) -> Result<VerificationRequest, (String, String)> {
    let as_key = |e: &Error| match e.validation() {
        Some(v) => (v.field().to_owned(), v.message().to_owned()),
        None => ("(row)".to_owned(), e.to_string()),
    };
    let normalized =
        request.map_err(as_key)?.normalized().map_err(|e| (e.field().to_owned(), e.message().to_owned()))?;
    if let Some(id) = request_id {
        request_id_header(id).map_err(|e| as_key(&e))?;
    }
    Ok(normalized)
}

/// A pass in progress: add each row in order, then [`Surveyor::finish`].
pub struct Surveyor {
    survey: Survey,
    first: HashMap<Fingerprint, u64, BuildHasherDefault<Prehashed>>,
    dedupe: bool,
    /// Which row each duplicate repeats, when asked for (a dedupe run needs
    /// them; a dry run, the count alone).
    pairs: Option<Vec<(u64, u64)>>,
}

impl Surveyor {
    /// `dedupe`: whether a real run would send duplicates (it would not);
    /// `pairs`: whether to keep which row each duplicate repeats.
    pub fn new(dedupe: bool, pairs: bool) -> Surveyor {
        Surveyor { survey: Survey::default(), first: HashMap::default(), dedupe, pairs: pairs.then(Vec::new) }
    }

    /// Adds row `row` (numbers increase), as [`check`] found it; `skipped`: a
    /// real run would not send it (already done).
    pub fn add(&mut self, row: u64, checked: Result<VerificationRequest, (String, String)>, skipped: bool) {
        let s = &mut self.survey;
        s.rows += 1;
        let normalized = match checked {
            Err(key) => {
                *s.invalid.entry(key).or_default() += 1;
                return;
            }
            Ok(normalized) => normalized,
        };
        s.valid += 1;
        let duplicate = match self.first.entry(fingerprint(&normalized)) {
            std::collections::hash_map::Entry::Occupied(e) => {
                s.duplicates += 1;
                if let Some(pairs) = &mut self.pairs {
                    pairs.push((row, *e.get()));
                }
                true
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(row);
                false
            }
        };
        let copied = self.dedupe && duplicate;
        if !skipped && !copied {
            s.to_send += 1;
        }
    }

    pub fn finish(self) -> (Survey, Duplicates) {
        (self.survey, Duplicates(self.pairs.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Field;

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
        let n = |r: &VerificationRequest| r.normalized().unwrap();
        assert_eq!(fingerprint(&n(&a)), fingerprint(&n(&b)), "normalisation makes them one record");
        assert_ne!(fingerprint(&n(&b)), fingerprint(&n(&c)));
    }

    #[test]
    fn a_pass_counts_valid_invalid_duplicates_and_calls() {
        let good = VerificationRequest::builder("3171014508900001").name("Siti").build().unwrap();
        let same = VerificationRequest::builder("3171 0145 0890 0001").name(" Siti ").build().unwrap();
        let mut bad_nik = VerificationRequest::default();
        bad_nik.set(Field::Nik, "12345");
        let rows: Vec<(Result<VerificationRequest, Error>, Option<&str>)> = vec![
            (Ok(good.clone()), None),
            (Ok(same), Some("row-2")),
            (Ok(bad_nik), None),
            (Ok(good.clone()), Some("has space")),
            (Err(Error::Validation(crate::ValidationError::new(Field::DateOfBirth, "not a date"))), None),
        ];
        for dedupe in [false, true] {
            let mut s = Surveyor::new(dedupe, true);
            for (i, (request, id)) in rows.iter().enumerate() {
                s.add(i as u64 + 1, check(request.as_ref(), *id), i == 0 && dedupe);
            }
            let (survey, duplicates) = s.finish();
            assert_eq!((survey.rows, survey.valid, survey.invalid_count(), survey.duplicates), (5, 2, 3, 1));
            assert_eq!(duplicates.first_of(2), Some(1));
            // Without dedupe both valid rows go; with it, row 1 is skipped (done) and row 2 repeats it.
            assert_eq!(survey.to_send, if dedupe { 0 } else { 2 });
            let fields: Vec<&str> = survey.invalid_by().iter().map(|(f, _, _)| *f).collect();
            assert_eq!(fields, ["date_of_birth", "nik", "request_id"]);
        }
    }
}
