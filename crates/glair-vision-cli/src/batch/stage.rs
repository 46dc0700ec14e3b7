//! Where a batch reads and writes on this machine. The batch itself only ever
//! reads local files and appends to a local file (that is what makes it stream,
//! resume after a kill, and keep memory flat); this module maps what the user
//! named onto such files:
//!
//! - an input file is itself; a folder is its part files, in name order, read as
//!   one table (names starting with `_` or `.`, such as `_SUCCESS`, `_delta_log/`
//!   or `.crc` files, are not data); an object-store URL of an object or of a
//!   prefix of part files is copied, streaming, into a spool folder under the
//!   staging directory for the run and removed after it;
//! - an output file is itself; an object-store URL is built in a staging folder
//!   of its own (named by a hash of the URL) exactly as a local output is, and
//!   uploaded whole, in one multipart upload, once every row has an outcome; an
//!   interrupted run leaves it there and the next run on this machine resumes
//!   it. With no staging copy, an existing object (an earlier complete output) is
//!   fetched first, so that a re-run resumes or finds nothing to do, as locally.

use std::fmt;
use std::path::{Path, PathBuf};

use super::objects::Object;

use crate::args::{BatchArgs, InputFormat};
use crate::batch::input;
use crate::output::EXIT_OK;

/// The schemes of the object stores (`object_store`'s names for them).
const SCHEMES: &[&str] = &["s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "adl"];

/// An object-store URL as given; shown without its query (an Azure SAS token) or
/// user info.
#[derive(Clone)]
pub struct Remote(String);

impl Remote {
    pub fn url(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let without_query = self.0.split(['?', '#']).next().unwrap_or_default();
        match without_query.split_once("://") {
            Some((scheme, rest)) => {
                let rest =
                    rest.split_once('@').filter(|(user, _)| !user.contains('/')).map_or(rest, |(_, r)| r);
                write!(f, "{scheme}://{rest}")
            }
            None => f.write_str(without_query),
        }
    }
}

/// A local path, or an object-store URL.
enum Location {
    Local(PathBuf),
    Remote(Remote),
}

fn locate(path: &Path) -> Result<Location, String> {
    let text = path.to_string_lossy();
    let Some((scheme, rest)) = text.split_once("://") else { return Ok(Location::Local(path.to_owned())) };
    if scheme.eq_ignore_ascii_case("file") {
        return Ok(Location::Local(PathBuf::from(rest)));
    }
    if SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return Ok(Location::Remote(Remote(text.into_owned())));
    }
    Err(format!("{}: a path, or an s3://, gs://, az:// or abfss:// URL", Remote(text.into_owned())))
}

/// The input's part files, its name for messages, and its format.
pub struct Input {
    pub parts: Vec<PathBuf>,
    pub name: String,
    pub format: InputFormat,
    /// The local copy of an object-store input, removed with this.
    _spool: Option<Spool>,
}

/// A folder removed when dropped.
struct Spool(PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Resolves `--input`: a file, a folder's part files, or an object store's object
/// or prefix (copied into a spool folder).
pub async fn input(args: &BatchArgs) -> Result<Input, String> {
    match locate(&args.input)? {
        Location::Local(path) if path.is_dir() => {
            let name = path.display().to_string();
            let mut found = Vec::new();
            walk(&path, &path, &mut found).map_err(|e| format!("cannot read {name}: {e}"))?;
            found.sort();
            let (format, parts) = choose_parts(&name, found, args.format)?;
            let parts = parts.into_iter().map(|(_, file)| file).collect();
            Ok(Input { parts, name, format, _spool: None })
        }
        Location::Local(path) => {
            let format = input::detect_format(&path, args.format)?;
            Ok(Input { name: path.display().to_string(), parts: vec![path], format, _spool: None })
        }
        Location::Remote(remote) => {
            let name = remote.to_string();
            let object = Object::open(&remote)?;
            let staging = staging_dir(args)?;
            remove_orphan_spools(&staging);
            let spool_dir = private_dir(&staging.join(format!("{SPOOL}{}", std::process::id())))?;
            let spool = Spool(spool_dir.clone());
            if object.exists().await? {
                let format = input::detect_format(Path::new(remote.url()), args.format)?;
                let local = spool_dir.join(format!("00000-{}", file_name(&name)));
                object.download(None, &local).await?;
                return Ok(Input { parts: vec![local], name, format, _spool: Some(spool) });
            }
            let (format, chosen) = choose_parts(&name, object.list().await?, args.format)?;
            let mut parts = Vec::with_capacity(chosen.len());
            for (i, (relative, path)) in chosen.iter().enumerate() {
                let local = spool_dir.join(format!("{i:05}-{}", file_name(relative)));
                object.download(Some(path), &local).await?;
                parts.push(local);
            }
            Ok(Input { parts, name, format, _spool: Some(spool) })
        }
    }
}

/// A spool folder's name: this prefix and the pid of the run that made it.
const SPOOL: &str = "input-";

/// Removes the spools of runs that are gone (killed before they could remove
/// their own): they hold copies of inputs, personal data, for no one.
fn remove_orphan_spools(staging: &Path) {
    let Ok(entries) = std::fs::read_dir(staging) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(SPOOL)).and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // Signal 0 checks existence only; EPERM means it exists as another user's.
    // SAFETY: kill with signal 0 sends nothing.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    alive || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    true // never removes another run's spool where liveness cannot be told
}

/// The files under `dir` (relative path, path), skipping hidden and `_` entries.
fn walk(root: &Path, dir: &Path, found: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_data(&name) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, found)?;
        } else {
            let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
            found.push((relative, path));
        }
    }
    Ok(())
}

/// A name no engine writes data under: `_SUCCESS`, `_delta_log`, `_temporary`, `.crc` files.
fn is_data(component: &str) -> bool {
    !component.is_empty() && !component.starts_with(['_', '.'])
}

/// The data parts among `listed` files (by relative path, sorted, each with what
/// reads it) and their format: with `--format`, every data file; else those named
/// `.csv`, `.jsonl`/`.ndjson` or `.parquet`/`.pq`, which must all be of one format.
fn choose_parts<T>(
    name: &str,
    listed: Vec<(String, T)>,
    given: Option<InputFormat>,
) -> Result<(InputFormat, Vec<(String, T)>), String> {
    let data: Vec<(String, T)> = listed.into_iter().filter(|(r, _)| r.split('/').all(is_data)).collect();
    let (format, parts) = match given {
        Some(format) => (Some(format), data),
        None => {
            let mut format = None;
            let mut parts = Vec::new();
            for part in data {
                let Ok(f) = input::detect_format(Path::new(&part.0), None) else { continue };
                if format.is_some_and(|seen| seen != f) {
                    return Err(format!(
                        "{name}: holds part files of more than one format ({} and {}); pass --format to read one",
                        parts.first().map_or("", |(p, _): &(String, T)| p.as_str()),
                        part.0
                    ));
                }
                format = Some(f);
                parts.push(part);
            }
            (format, parts)
        }
    };
    match format {
        Some(format) if !parts.is_empty() => Ok((format, parts)),
        _ => Err(format!("{name}: no part files (.csv, .jsonl, .parquet) found there")),
    }
}

fn file_name(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("input")
}

/// `--staging-dir`, else `$XDG_STATE_HOME/glair-vision/staging`, else
/// `~/.local/state/glair-vision/staging`, else the temp dir's `glair-vision-staging`.
fn staging_dir(args: &BatchArgs) -> Result<PathBuf, String> {
    if let Some(dir) = &args.staging_dir {
        return Ok(dir.clone());
    }
    let absolute = |v: &str| std::env::var_os(v).map(PathBuf::from).filter(|p| p.is_absolute());
    Ok(absolute("XDG_STATE_HOME")
        .map(|state| state.join("glair-vision").join("staging"))
        .or_else(|| absolute("HOME").map(|home| home.join(".local/state/glair-vision/staging")))
        .unwrap_or_else(|| std::env::temp_dir().join("glair-vision-staging")))
}

/// Creates `dir` readable by this user only: it holds result lines (kept columns,
/// names in the answers' reasons) and copies of the input.
fn private_dir(dir: &Path) -> Result<PathBuf, String> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir.to_owned())
}

/// The local file the batch writes, its name for messages, and, for an
/// object-store output, where it goes when complete.
pub struct Output {
    pub local: PathBuf,
    pub name: String,
    remote: Option<Upload>,
}

struct Upload {
    object: Object,
    /// The staging folder of this URL.
    dir: PathBuf,
    /// The local copy's size and time when fetched from the store this run.
    fetched: Option<(u64, std::time::SystemTime)>,
}

fn stamp(path: &Path) -> Option<(u64, std::time::SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// Resolves `--output`: a file is itself; an object-store URL gets a staging copy
/// (resumed when one is there, else fetched when the object exists).
pub async fn output(path: &Path, args: &BatchArgs) -> Result<Output, String> {
    let remote = match locate(path)? {
        Location::Local(local) => {
            return Ok(Output { name: local.display().to_string(), local, remote: None })
        }
        Location::Remote(remote) => remote,
    };
    let name = remote.to_string();
    if remote.url().ends_with('/') {
        return Err(format!("{name}: --output names one object, not a prefix"));
    }
    let object = Object::open(&remote)?;
    let dir = staging_dir(args)?.join(output_key(remote.url()));
    let local = dir.join(file_name(&name));
    let resumable = std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some());
    private_dir(&dir)?;
    let mut fetched = None;
    if !resumable && object.exists().await? {
        object.download(None, &local).await?;
        fetched = stamp(&local);
    }
    if resumable {
        say!("{name}: resuming from the staging copy in {}", dir.display());
    }
    Ok(Output { local, name, remote: Some(Upload { object, dir, fetched }) })
}

/// The staging folder's name: a hash of the URL (it may name a customer's bucket).
fn output_key(url: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(url.as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

impl Output {
    /// After the batch: a complete object-store output is uploaded (unless it is the
    /// object fetched and left unchanged) and its staging folder removed; an
    /// incomplete one stays staged for the next run. The batch's exit code, or 2
    /// when the upload fails.
    pub async fn finish(self, code: u8, dry_run: bool) -> u8 {
        let Some(upload) = self.remote else { return code };
        let unchanged = upload.fetched.is_some() && upload.fetched == stamp(&self.local);
        if dry_run {
            if unchanged {
                let _ = std::fs::remove_dir_all(&upload.dir);
            }
            return code;
        }
        if code != EXIT_OK {
            say!("{}: not uploaded; the rows done so far are kept in {}", self.name, upload.dir.display());
            return code;
        }
        if !unchanged {
            if let Err(e) = upload.object.upload(&self.local).await {
                say!("error: {}", crate::output::one_line(&e));
                say!("the complete output is kept in {}; run again to upload it", upload.dir.display());
                return crate::output::EXIT_INPUT;
            }
            say!("uploaded {}", self.name);
        }
        let _ = std::fs::remove_dir_all(&upload.dir);
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_secrets() {
        let r = Remote("az://user:pw@container/out.jsonl?sv=2024&sig=SECRET".into());
        assert_eq!(r.to_string(), "az://container/out.jsonl");
        assert_eq!(Remote("s3://kyc/in/part-0.parquet".into()).to_string(), "s3://kyc/in/part-0.parquet");
        assert!(matches!(locate(Path::new("S3://kyc/x.csv")), Ok(Location::Remote(_))));
        assert!(
            matches!(locate(Path::new("file:///tmp/x.csv")), Ok(Location::Local(p)) if p == Path::new("/tmp/x.csv"))
        );
        assert!(matches!(locate(Path::new("in.csv")), Ok(Location::Local(_))));
        let e = locate(Path::new("ftp://u:secret@host/x.csv")).err().unwrap();
        assert!(e.contains("s3://") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn parts_are_data_files_of_one_format_in_name_order() {
        let names = |v: &[&str]| v.iter().map(|s| (s.to_string(), ())).collect::<Vec<_>>();
        let listed = names(&[
            "_SUCCESS",
            "_delta_log/0.json",
            ".part-0.parquet.crc",
            "date=2024/part-0.parquet",
            "part-1.snappy.parquet",
            "README.txt",
        ]);
        let (format, parts) = choose_parts("in", listed.clone(), None).unwrap();
        assert_eq!(format, InputFormat::Parquet);
        let parts: Vec<String> = parts.into_iter().map(|(relative, ())| relative).collect();
        assert_eq!(parts, ["date=2024/part-0.parquet", "part-1.snappy.parquet"]);
        let (_, all) = choose_parts("in", listed, Some(InputFormat::Parquet)).unwrap();
        assert_eq!(all.len(), 3, "with --format every data file is a part: {all:?}");
        let mixed = choose_parts("in", names(&["a.csv", "b.jsonl"]), None).unwrap_err();
        assert!(mixed.contains("more than one format") && mixed.contains("--format"), "{mixed}");
        assert!(choose_parts("in", names(&["_SUCCESS"]), None).unwrap_err().contains("no part files"));
    }

    #[test]
    fn output_keys_name_no_bucket() {
        let key = output_key("s3://customer-bank/kyc/out.jsonl");
        assert_eq!(key.len(), 24);
        assert!(!key.contains("customer"));
        assert_ne!(key, output_key("s3://customer-bank/kyc/out2.jsonl"));
    }
}
