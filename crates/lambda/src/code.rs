//! Deployment packages: checking a zip when it is uploaded, unpacking it once per code
//! version for the workers, and building the zip of inline (`ZipFile`) code.
//!
//! A package is stored in the store by its SHA-256 (so a replica, or the next start,
//! finds it) and unpacked under `<data dir>/lambda/code/<sha256>/` the first time a
//! worker needs it. Unpacking refuses what could write outside that directory: absolute
//! paths, `..` components, and symbolic links (a link could point anywhere, and a later
//! entry could write through it). Files keep their Unix permission bits, so a
//! `provided.*` runtime's `bootstrap` stays executable.

use std::io::{Cursor, Read, Write};
use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::{LambdaError, Result};

/// Largest zipped package accepted in a request (50 MB, Lambda's direct-upload limit).
pub const MAX_ZIPPED_BYTES: usize = 50 * 1024 * 1024;
/// Largest unzipped package (250 MB).
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;

/// A checked deployment package.
#[derive(Debug, Clone)]
pub struct Package {
    pub zip: Vec<u8>,
    /// Lowercase hex of the SHA-256: the storage key and directory name.
    pub hex: String,
    /// Base64 of the SHA-256, as `CodeSha256` reports it.
    pub sha256_b64: String,
}

impl Package {
    /// Checks that `zip` is a zip Lambda would take: readable, unpacked size within the
    /// limit, every entry inside the package (see the module docs).
    pub fn check(zip: Vec<u8>) -> Result<Package> {
        if zip.len() > MAX_ZIPPED_BYTES {
            return Err(LambdaError::RequestTooLarge(format!(
                "Request must be smaller than {MAX_ZIPPED_BYTES} bytes for the CreateFunction operation"
            )));
        }
        let unzip_error = || {
            LambdaError::InvalidParameterValue(
                "Could not unzip uploaded file. Please check your file, then try to upload again."
                    .into(),
            )
        };
        let mut archive = zip::ZipArchive::new(Cursor::new(&zip)).map_err(|_| unzip_error())?;
        let mut total = 0u64;
        for i in 0..archive.len() {
            let entry = archive.by_index_raw(i).map_err(|_| unzip_error())?;
            total = total.saturating_add(entry.size());
            let name = entry.name().map_err(|_| unzip_error())?;
            entry_path(&name, entry.is_symlink())?;
        }
        if total > MAX_UNZIPPED_BYTES {
            return Err(LambdaError::InvalidParameterValue(format!(
                "Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
            )));
        }
        let digest = Sha256::digest(&zip);
        Ok(Package {
            hex: hex::encode(digest),
            sha256_b64: base64::engine::general_purpose::STANDARD.encode(digest),
            zip,
        })
    }

    /// The package of inline code: one file, `index.py` or `index.js` by runtime, as
    /// CloudFormation builds it for `Code.ZipFile`.
    pub fn inline(runtime: &str, source: &str) -> Result<Package> {
        let file = if runtime.starts_with("nodejs") {
            "index.js"
        } else if runtime.starts_with("python") {
            "index.py"
        } else {
            return Err(LambdaError::InvalidParameterValue(format!(
                "ZipFile can only be used when Runtime is set to a Node.js or Python runtime, not {runtime}"
            )));
        };
        let mut out = Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
        writer
            .start_file(file, options)
            .and_then(|_| writer.write_all(source.as_bytes()).map_err(Into::into))
            .and_then(|_| writer.finish().map(|_| ()))
            .map_err(|e| LambdaError::Service(format!("cannot build the inline package: {e}")))?;
        Package::check(out.into_inner())
    }
}

/// Where an entry goes inside the package directory; refuses escapes and links.
fn entry_path(name: &str, is_symlink: bool) -> Result<PathBuf> {
    let refuse = |why: &str| {
        LambdaError::InvalidParameterValue(format!(
            "Could not unzip uploaded file: the entry '{name}' {why}."
        ))
    };
    if is_symlink {
        return Err(refuse(
            "is a symbolic link, which sagestack does not unpack",
        ));
    }
    let path = Path::new(name);
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(refuse("points outside the package"));
            }
        }
    }
    Ok(out)
}

/// Unpacks `zip` into `dir` unless it is there already (a `.complete` marker is written
/// last, so a crash mid-unpack is redone). Blocking: call it off the async workers.
pub fn unpack(zip: &[u8], dir: &Path) -> Result<()> {
    let marker = dir.join(".sagestack-complete");
    if marker.exists() {
        return Ok(());
    }
    let io = |e: std::io::Error| LambdaError::Service(format!("cannot unpack the code: {e}"));
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io)?;
    }
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut archive = zip::ZipArchive::new(Cursor::new(zip))
        .map_err(|e| LambdaError::Service(format!("cannot unpack the code: {e}")))?;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| LambdaError::Service(format!("cannot unpack the code: {e}")))?;
        let name = entry
            .name()
            .map_err(|e| LambdaError::Service(format!("cannot unpack the code: {e}")))?
            .into_owned();
        let relative = entry_path(&name, entry.is_symlink())?;
        let target = dir.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&target).map_err(io)?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes).map_err(io)?;
        std::fs::write(&target, &bytes).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Zips made on Windows carry no Unix mode: readable (and, for a runtime's
            // bootstrap, executable) by the owner is what Lambda's own unpacking gives.
            let mode = entry.unix_mode().map_or(0o755, |m| (m & 0o777) | 0o400);
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).map_err(io)?;
        }
    }
    std::fs::write(&marker, b"").map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        for (name, body) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn a_good_package_unpacks_once() {
        let p = Package::check(zip_of(&[("app/main.py", "x = 1\n")])).unwrap();
        assert_eq!(p.hex.len(), 64);
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join(&p.hex);
        unpack(&p.zip, &target).unwrap();
        assert_eq!(
            std::fs::read_to_string(target.join("app/main.py")).unwrap(),
            "x = 1\n"
        );
        // A second unpack leaves the directory alone.
        std::fs::write(target.join("extra"), "kept").unwrap();
        unpack(&p.zip, &target).unwrap();
        assert!(target.join("extra").exists());
    }

    #[test]
    fn escapes_and_garbage_are_refused() {
        for name in ["../evil.py", "/etc/evil", "a/../../evil"] {
            let err = Package::check(zip_of(&[(name, "x")])).unwrap_err();
            assert!(
                matches!(err, LambdaError::InvalidParameterValue(ref m) if m.contains("outside")),
                "{name}: {err:?}"
            );
        }
        let mut out = Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        w.add_symlink("link", "/etc", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.finish().unwrap();
        let err = Package::check(out.into_inner()).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let err = Package::check(b"not a zip".to_vec()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        );
    }

    #[test]
    fn inline_code_is_index_by_runtime() {
        let p = Package::inline("python3.12", "def handler(e, c): return 1\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        unpack(&p.zip, dir.path()).unwrap();
        assert!(dir.path().join("index.py").exists());
        let p = Package::inline("nodejs20.x", "exports.handler = async () => 1;").unwrap();
        unpack(&p.zip, &dir.path().join("n")).unwrap();
        assert!(dir.path().join("n/index.js").exists());
        assert!(Package::inline("java21", "x").is_err());
    }
}
