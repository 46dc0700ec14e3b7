//! Object stores for `batch --input/--output` (cargo feature `object-store`), on
//! Apache Arrow's `object_store`: S3 (and S3-compatible servers), Google Cloud
//! Storage and Azure Blob Storage / ADLS Gen2.
//!
//! Credentials come from each cloud's usual chain as `object_store` reads it: the
//! environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`), web identity and instance or
//! container roles; for S3 also a static profile of `~/.aws/credentials`
//! (`AWS_PROFILE`, else `default`), which `object_store` does not read itself. A
//! custom endpoint is named the AWS way, `AWS_ENDPOINT_URL`; a plain-`http`
//! endpoint (a local S3-compatible server) is allowed without `AWS_ALLOW_HTTP`.
//!
//! Objects are copied whole, streaming, between the store and local files: the
//! batch itself always reads and writes local files (see `stage`), so memory
//! stays what it is for a local input.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, ObjectStoreScheme, WriteMultipart};
use tokio::io::AsyncWriteExt;
use url::Url;

use crate::batch::stage::Remote;

/// Bytes per multipart part: S3's least for all but the last part (5 MiB), so
/// that an upload holds little memory (at most two parts in flight and one filling).
const PART_SIZE: usize = 5 * 1024 * 1024;

/// A store and the object (or prefix) a URL names in it.
pub struct Object {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    name: String,
}

impl Object {
    pub fn open(remote: &Remote) -> Result<Object, String> {
        let name = remote.to_string();
        let url = Url::parse(remote.url()).map_err(|e| format!("{name}: not a URL: {e}"))?;
        let (scheme, path) =
            ObjectStoreScheme::parse(&url).map_err(|e| format!("{name}: not an object-store URL: {e}"))?;
        let fail = |e: object_store::Error| format!("{name}: {}", one_line(&e));
        let store: Arc<dyn ObjectStore> = match scheme {
            ObjectStoreScheme::AmazonS3 => Arc::new(s3_builder(url.as_str()).build().map_err(fail)?),
            ObjectStoreScheme::GoogleCloudStorage => {
                Arc::new(GoogleCloudStorageBuilder::from_env().with_url(url.as_str()).build().map_err(fail)?)
            }
            ObjectStoreScheme::MicrosoftAzure => {
                Arc::new(MicrosoftAzureBuilder::from_env().with_url(url.as_str()).build().map_err(fail)?)
            }
            _ => return Err(format!("{name}: use an s3://, gs://, az:// or abfss:// URL")),
        };
        Ok(Object { store, path, name })
    }

    /// Whether the URL names one object (not a prefix, not nothing).
    pub async fn exists(&self) -> Result<bool, String> {
        if self.path.as_ref().is_empty() {
            return Ok(false);
        }
        match self.store.head(&self.path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.error("cannot read", &e)),
        }
    }

    /// The objects under the URL taken as a prefix (a folder), sorted by path,
    /// with their paths relative to it.
    pub async fn list(&self) -> Result<Vec<(String, ObjectPath)>, String> {
        let prefix = (!self.path.as_ref().is_empty()).then_some(&self.path);
        let mut found: Vec<ObjectPath> = self
            .store
            .list(prefix)
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(|e| self.error("cannot list", &e))?;
        found.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
        let base = self.path.as_ref().trim_end_matches('/');
        Ok(found
            .into_iter()
            .map(|p| {
                let relative = p.as_ref().strip_prefix(base).unwrap_or(p.as_ref()).trim_start_matches('/');
                (relative.to_owned(), p)
            })
            .collect())
    }

    /// Copies one object (the URL's own, or one listed under it) to `to`, streaming.
    pub async fn download(&self, object: Option<&ObjectPath>, to: &Path) -> Result<(), String> {
        let path = object.unwrap_or(&self.path);
        let what = || format!("{}/{}", self.root(), path.as_ref());
        let got =
            self.store.get(path).await.map_err(|e| format!("cannot read {}: {}", what(), one_line(&e)))?;
        let mut file =
            tokio::fs::File::create(to).await.map_err(|e| format!("cannot write {}: {e}", to.display()))?;
        let mut body = got.into_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| format!("cannot read {}: {}", what(), one_line(&e)))?;
            file.write_all(&chunk).await.map_err(|e| format!("cannot write {}: {e}", to.display()))?;
        }
        file.flush().await.map_err(|e| format!("cannot write {}: {e}", to.display()))
    }

    /// Writes `from` to the URL's object in one multipart upload, which the store
    /// makes visible only when complete (aborted on failure: no partial object).
    pub async fn upload(&self, from: &Path) -> Result<(), String> {
        let fail = |e: &object_store::Error| self.error("cannot write", e);
        let upload = self.store.put_multipart(&self.path).await.map_err(|e| fail(&e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut file =
            tokio::fs::File::open(from).await.map_err(|e| format!("cannot read {}: {e}", from.display()))?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match tokio::io::AsyncReadExt::read(&mut file, &mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(format!("cannot read {}: {e}", from.display()));
                }
            };
            if n == 0 {
                break;
            }
            // At most two parts in flight: memory stays a few parts, whatever the size.
            if let Err(e) = writer.wait_for_capacity(2).await {
                return Err(fail(&e));
            }
            writer.write(&buf[..n]);
        }
        writer.finish().await.map(drop).map_err(|e| fail(&e))
    }

    fn root(&self) -> String {
        let (scheme, rest) = self.name.split_once("://").unwrap_or(("", &self.name));
        let bucket = rest.split('/').next().unwrap_or_default();
        format!("{scheme}://{bucket}")
    }

    fn error(&self, doing: &str, e: &object_store::Error) -> String {
        format!("{doing} {}: {}", self.name, one_line(e))
    }
}

/// S3 from the environment, plus what `object_store` leaves out: a profile's
/// static keys and region, and plain `http` for an `http://` endpoint.
fn s3_builder(url: &str) -> AmazonS3Builder {
    let mut builder = AmazonS3Builder::from_env();
    let has =
        |b: &AmazonS3Builder, k: AmazonS3ConfigKey| b.get_config_value(&k).is_some_and(|v| !v.is_empty());
    if !has(&builder, AmazonS3ConfigKey::AccessKeyId) {
        if let Some(profile) = aws_profile() {
            builder =
                builder.with_access_key_id(profile.access_key_id).with_secret_access_key(profile.secret);
            if let Some(token) = profile.token {
                builder = builder.with_token(token);
            }
        }
    }
    if !has(&builder, AmazonS3ConfigKey::Region) && !has(&builder, AmazonS3ConfigKey::DefaultRegion) {
        if let Some(region) = aws_profile_region() {
            builder = builder.with_region(region);
        }
    }
    let endpoint = builder.get_config_value(&AmazonS3ConfigKey::Endpoint).unwrap_or_default();
    if endpoint.starts_with("http://") {
        builder = builder.with_allow_http(true);
    }
    builder.with_url(url)
}

struct Profile {
    access_key_id: String,
    secret: String,
    token: Option<String>,
}

fn aws_profile_name() -> String {
    std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "default".into())
}

fn aws_file(variable: &str, default: &str) -> Option<PathBuf> {
    match std::env::var_os(variable) {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => std::env::var_os("HOME").map(|home| Path::new(&home).join(".aws").join(default)),
    }
}

/// The static keys of the profile in `~/.aws/credentials` (`AWS_SHARED_CREDENTIALS_FILE`).
fn aws_profile() -> Option<Profile> {
    let text = std::fs::read_to_string(aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials")?).ok()?;
    let section = ini_section(&text, &aws_profile_name());
    let get = |key: &str| section.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    Some(Profile {
        access_key_id: get("aws_access_key_id")?,
        secret: get("aws_secret_access_key")?,
        token: get("aws_session_token"),
    })
}

/// The profile's region in `~/.aws/config` (`AWS_CONFIG_FILE`), where a profile
/// other than `default` is headed `[profile NAME]`.
fn aws_profile_region() -> Option<String> {
    let text = std::fs::read_to_string(aws_file("AWS_CONFIG_FILE", "config")?).ok()?;
    let name = aws_profile_name();
    let heading = if name == "default" { name } else { format!("profile {name}") };
    ini_section(&text, &heading).into_iter().find(|(k, _)| k == "region").map(|(_, v)| v)
}

/// The `key = value` pairs of one `[section]` of an INI file.
fn ini_section(text: &str, name: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut pairs = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(heading) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = heading.trim() == name;
        } else if inside && !line.starts_with(['#', ';']) {
            if let Some((k, v)) = line.split_once('=') {
                pairs.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
    }
    pairs
}

/// `object_store`'s errors span lines (a source chain, a response body).
fn one_line(e: &object_store::Error) -> String {
    crate::output::one_line(&e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections_are_read_by_heading_only() {
        let text = "[default]\naws_access_key_id = A\n# aws_secret_access_key = no\n\
                    [profile kyc]\nregion=ap-southeast-3\n[kyc]\nAWS_ACCESS_KEY_ID=B\n";
        assert_eq!(ini_section(text, "default"), vec![("aws_access_key_id".into(), "A".into())]);
        assert_eq!(ini_section(text, "profile kyc"), vec![("region".into(), "ap-southeast-3".into())]);
        assert_eq!(ini_section(text, "kyc"), vec![("aws_access_key_id".into(), "B".into())]);
        assert!(ini_section(text, "other").is_empty());
    }
}
