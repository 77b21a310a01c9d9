//! The backup file: a tar stream (manifest first, then the dumps and documents), optionally
//! encrypted with age. Written to `<name>.partial`, synced, then renamed: a file with the
//! final name is always complete.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;

use super::manifest::{self, Manifest};
use super::settings::Encryption;
use super::{At, BackupError};
use crate::ops::secrets::{Purpose, Secrets};

const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";
const MAX_MANIFEST: u64 = 64 * 1024 * 1024;

/// What opens an encrypted backup.
pub enum Key {
    None,
    Identities(Vec<age::x25519::Identity>),
    Passphrase(SecretString),
}

impl Key {
    /// An age identity file (`AGE-SECRET-KEY-1…` lines, `#` comments).
    pub fn identity_file(path: &Path) -> Result<Self, BackupError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BackupError::Key(format!("{}: {e}", path.display())))?;
        let ids: Vec<age::x25519::Identity> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| l.parse::<age::x25519::Identity>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                BackupError::Key(format!(
                    "{}: not an age identity file (lines starting with AGE-SECRET-KEY-1)",
                    path.display()
                ))
            })?;
        if ids.is_empty() {
            return Err(BackupError::Key(format!(
                "{}: no identity in the file",
                path.display()
            )));
        }
        Ok(Self::Identities(ids))
    }

    pub fn passphrase_file(path: &Path) -> Result<Self, BackupError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BackupError::Key(format!("{}: {e}", path.display())))?;
        let pass = text.trim_end_matches(['\n', '\r']).to_owned();
        if pass.is_empty() {
            return Err(BackupError::Key(format!("{} is empty", path.display())));
        }
        Ok(Self::Passphrase(SecretString::from(pass)))
    }

    /// The installation's own passphrase, when backups are encrypted with one.
    pub fn stored(enc: &Encryption, secrets: &Secrets) -> Result<Self, BackupError> {
        match enc {
            Encryption::Passphrase(sealed) => {
                let plain = hex::decode(sealed)
                    .ok()
                    .and_then(|s| secrets.decrypt(Purpose::BackupKey, &s).ok())
                    .and_then(|p| String::from_utf8(p).ok())
                    .ok_or_else(|| {
                        BackupError::Key(
                            "the stored backup passphrase cannot be read (secret key file replaced?)"
                                .into(),
                        )
                    })?;
                Ok(Self::Passphrase(SecretString::from(plain)))
            }
            _ => Ok(Self::None),
        }
    }
}

enum Sink {
    Plain(BufWriter<File>),
    Age(age::stream::StreamWriter<BufWriter<File>>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(w) => w.write(buf),
            Self::Age(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(w) => w.flush(),
            Self::Age(w) => w.flush(),
        }
    }
}

impl Sink {
    fn finish(self) -> std::io::Result<File> {
        let w = match self {
            Self::Plain(w) => w,
            Self::Age(w) => w.finish()?,
        };
        w.into_inner().map_err(|e| e.into_error())
    }
}

fn encryptor(enc: &Encryption, secrets: &Secrets) -> Result<Option<age::Encryptor>, BackupError> {
    match enc {
        Encryption::None => Ok(None),
        Encryption::Recipient(key) => {
            let r: age::x25519::Recipient = key.parse().map_err(|_| {
                BackupError::Key(format!("backup recipient {key} is not an age public key"))
            })?;
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
                .map(Some)
                .map_err(|e| BackupError::Key(e.to_string()))
        }
        Encryption::Passphrase(_) => match Key::stored(enc, secrets)? {
            Key::Passphrase(p) => Ok(Some(age::Encryptor::with_user_passphrase(p))),
            _ => Err(BackupError::Key("no backup passphrase".into())),
        },
    }
}

/// Writes `manifest` and the files it lists (`source` maps an archive path to the file) to
/// `out`.
pub fn write(
    out: &Path,
    manifest: &Manifest,
    source: &dyn Fn(&str) -> PathBuf,
    enc: &Encryption,
    secrets: &Secrets,
) -> Result<u64, BackupError> {
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    let _ = std::fs::remove_file(&partial);
    // Whatever goes wrong from here on, no half-written (or empty) file stays behind.
    let mut guard = RemoveOnDrop(Some(partial.clone()));
    crate::ops::pgtools::create_private_file(&partial).at(&partial)?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&partial)
        .at(&partial)?;
    let buffered = BufWriter::with_capacity(1 << 20, file);
    let sink = match encryptor(enc, secrets)? {
        Some(e) => Sink::Age(e.wrap_output(buffered).at(&partial)?),
        None => Sink::Plain(buffered),
    };
    let mut tar = tar::Builder::new(sink);
    tar.mode(tar::HeaderMode::Deterministic);
    let json =
        serde_json::to_vec_pretty(manifest).map_err(|e| BackupError::Other(e.to_string()))?;
    let mut h = tar::Header::new_gnu();
    h.set_size(json.len() as u64);
    h.set_mode(0o600);
    h.set_cksum();
    tar.append_data(&mut h, "manifest.json", json.as_slice())
        .at(&partial)?;
    for f in manifest.files() {
        let src_path = source(&f.path);
        let mut src = File::open(&src_path).at(&src_path)?;
        let mut h = tar::Header::new_gnu();
        h.set_size(f.bytes);
        h.set_mode(0o600);
        h.set_cksum();
        // A read error names the source, a write error (a full disk) the archive.
        tar.append_data(&mut h, &f.path, &mut src).at(&partial)?;
    }
    let sink = tar.into_inner().at(&partial)?;
    let file = sink.finish().at(&partial)?;
    file.sync_all().at(&partial)?;
    drop(file);
    std::fs::rename(&partial, out).at(out)?;
    guard.0 = None;
    if let Some(dir) = out.parent() {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    std::fs::metadata(out).map(|m| m.len()).at(out)
}

/// Removes the file when dropped (an archive that was not finished).
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

pub fn is_encrypted(path: &Path) -> Result<bool, BackupError> {
    let mut f = File::open(path).map_err(|e| BackupError::Open(path.to_owned(), e.to_string()))?;
    let mut head = [0u8; 21];
    let n = f.read(&mut head)?;
    Ok(n == head.len() && head == AGE_MAGIC)
}

/// Reads only the manifest (decrypting when needed), for `backup list`.
pub fn read_manifest(path: &Path, key: &Key) -> Result<Manifest, BackupError> {
    let reader = open(path, key)?;
    let mut tar = tar::Archive::new(reader);
    let mut entries = tar.entries().map_err(|e| damaged(path, &e))?;
    let first = entries
        .next()
        .ok_or_else(|| BackupError::Damaged(path.to_owned(), "empty archive".into()))?
        .map_err(|e| damaged(path, &e))?;
    parse_manifest(path, first)
}

fn parse_manifest<R: Read>(path: &Path, entry: tar::Entry<'_, R>) -> Result<Manifest, BackupError> {
    let name = entry
        .path()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name != "manifest.json" {
        return Err(BackupError::Damaged(
            path.to_owned(),
            "not a ClinicBox backup (no manifest.json at its start)".into(),
        ));
    }
    let mut json = Vec::new();
    entry
        .take(MAX_MANIFEST)
        .read_to_end(&mut json)
        .map_err(|e| damaged(path, &e))?;
    let m: Manifest = serde_json::from_slice(&json).map_err(|e| {
        BackupError::Damaged(
            path.to_owned(),
            format!("manifest.json is not readable: {e}"),
        )
    })?;
    if m.format != manifest::FORMAT || m.product != "clinicbox" {
        return Err(BackupError::Damaged(
            path.to_owned(),
            format!("unknown backup format {} of {}", m.format, m.product),
        ));
    }
    Ok(m)
}

fn damaged(path: &Path, e: &std::io::Error) -> BackupError {
    BackupError::Damaged(path.to_owned(), e.to_string())
}

fn open(path: &Path, key: &Key) -> Result<Box<dyn Read>, BackupError> {
    let encrypted = is_encrypted(path)?;
    let f = File::open(path).map_err(|e| BackupError::Open(path.to_owned(), e.to_string()))?;
    let buffered = BufReader::with_capacity(1 << 20, f);
    if !encrypted {
        return Ok(Box::new(buffered));
    }
    let dec = age::Decryptor::new_buffered(buffered)
        .map_err(|e| BackupError::Damaged(path.to_owned(), format!("encryption header: {e}")))?;
    let reader = match key {
        Key::None => {
            return Err(BackupError::Key(format!(
                "{} is encrypted: give the key with --identity FILE (age private key) or --passphrase-file FILE",
                path.display()
            )));
        }
        Key::Identities(ids) => dec.decrypt(ids.iter().map(|i| i as &dyn age::Identity)),
        Key::Passphrase(p) => {
            let id = age::scrypt::Identity::new(p.clone());
            dec.decrypt(std::iter::once(&id as &dyn age::Identity))
        }
    };
    reader
        .map(|r| Box::new(r) as Box<dyn Read>)
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys | age::DecryptError::DecryptionFailed => {
                BackupError::Key(format!("the key given does not open {}", path.display()))
            }
            other => BackupError::Damaged(path.to_owned(), other.to_string()),
        })
}

/// Extracts the archive into `dest` (an empty private directory) and checks every file
/// against the manifest. Only the files the manifest lists are accepted.
pub fn extract(path: &Path, key: &Key, dest: &Path) -> Result<Manifest, BackupError> {
    let reader = open(path, key)?;
    let mut tar = tar::Archive::new(reader);
    let mut entries = tar.entries().map_err(|e| damaged(path, &e))?;
    let first = entries
        .next()
        .ok_or_else(|| BackupError::Damaged(path.to_owned(), "empty archive".into()))?
        .map_err(|e| damaged(path, &e))?;
    let m = parse_manifest(path, first)?;
    let expected: std::collections::HashSet<&str> = m.files().map(|f| f.path.as_str()).collect();
    for entry in entries {
        let mut entry = entry.map_err(|e| damaged(path, &e))?;
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(|e| damaged(path, &e))?;
        if !manifest::safe_relative(&name) || !expected.contains(name.as_str()) {
            return Err(BackupError::Damaged(
                path.to_owned(),
                format!("unexpected file {name:?} in the archive"),
            ));
        }
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(BackupError::Damaged(
                path.to_owned(),
                format!("{name} is not a regular file"),
            ));
        }
        let target = dest.join(&name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = File::create(&target)?;
        std::io::copy(&mut entry, &mut out).map_err(|e| damaged(path, &e))?;
    }
    for f in m.files() {
        let p = dest.join(&f.path);
        let (sha, bytes) = manifest::hash_file(&p)
            .map_err(|_| BackupError::Damaged(path.to_owned(), format!("{} is missing", f.path)))?;
        if sha != f.sha256 || bytes != f.bytes {
            return Err(BackupError::Damaged(
                path.to_owned(),
                format!("{} does not match its checksum in the manifest", f.path),
            ));
        }
    }
    Ok(m)
}
