//! `batch` built without the `parquet` feature (`cargo install glair-vision-cli
//! --no-default-features`): CSV and JSONL only. A Parquet input or output is a
//! usage error, found by [`supported`] before anything is read or sent; the
//! rest of this module's interface is never reached and answers the same.

use std::fs::File;
use std::path::Path;

use crate::batch::input::{Columns, InputRow};

const UNSUPPORTED: &str = "this glair-vision was built without Parquet (cargo feature `parquet`): \
use a release binary or `cargo install glair-vision-cli` with default features, or give CSV or JSONL";

pub fn supported() -> Result<(), String> {
    Err(UNSUPPORTED.to_owned())
}

/// No Parquet input can be opened, so no value of it exists.
pub enum ParquetRows {}

impl ParquetRows {
    pub fn open(_path: &Path, _file: File, _columns: &Columns) -> Result<ParquetRows, String> {
        Err(UNSUPPORTED.to_owned())
    }

    pub fn rows_read(&self) -> u64 {
        match *self {}
    }

    pub fn next(&mut self, _skip: impl Fn(u64) -> bool) -> Option<Result<InputRow, String>> {
        match *self {}
    }
}

/// No Parquet output can be prepared, so no value of it exists.
pub enum OutputSchema {}

pub fn count_rows(_path: &Path, _file: File) -> Result<u64, String> {
    Err(UNSUPPORTED.to_owned())
}

pub fn existing_rows(_output: &Path) -> Result<Option<u64>, String> {
    Err(UNSUPPORTED.to_owned())
}

pub fn prepare_output(
    _input: &Path,
    _input_is_parquet: bool,
    _keep: &[String],
    _dedupe: bool,
    _output: &Path,
    _total: u64,
) -> Result<Option<OutputSchema>, String> {
    Err(UNSUPPORTED.to_owned())
}

pub fn write_output(_output: &Path, schema: OutputSchema, _kept: usize, _total: u64) -> Result<(), String> {
    match schema {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parquet_is_refused_with_the_way_to_a_build_that_reads_it() {
        let e = supported().unwrap_err();
        assert!(e.contains("without Parquet") && e.contains("cargo feature `parquet`"), "{e}");
    }
}
