//! `batch` built without the `object-store` feature: an s3://, gs://, az:// or
//! abfss:// `--input` or `--output` is a usage error that says how to get a
//! build that reads it; the rest of this interface is never reached.

use std::path::Path;

use crate::batch::stage::Remote;

/// No object can be opened, so no value of it exists.
pub enum Object {}

impl Object {
    pub fn open(remote: &Remote) -> Result<Object, String> {
        Err(format!(
            "{remote}: this glair-vision was built without object stores (cargo feature `object-store`): \
             use a release binary or `cargo install glair-vision-cli` with default features, or copy the file here"
        ))
    }

    pub async fn exists(&self) -> Result<bool, String> {
        match *self {}
    }

    pub async fn list(&self) -> Result<Vec<(String, String)>, String> {
        match *self {}
    }

    pub async fn download(&self, _object: Option<&String>, _to: &Path) -> Result<(), String> {
        match *self {}
    }

    pub async fn upload(&self, _from: &Path) -> Result<(), String> {
        match *self {}
    }
}
