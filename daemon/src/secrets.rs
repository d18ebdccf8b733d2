//! Sealing of secrets not yet revealed: XChaCha20-Poly1305 with a key kept in its own file
//! beside (not inside) the store, so a copied store file or backup reveals no usable secret.
//!
//! The key file is created with mode 0600 on first start; a key file with looser
//! permissions is refused.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

/// Length of the random nonce stored before each ciphertext.
const NONCE_LEN: usize = 24;

/// Seals and opens secrets with the daemon's key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<key redacted>)")
    }
}

impl Sealer {
    /// Loads the key at `path`, creating it (0600) if it does not exist.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Sealer> {
        use anyhow::Context;
        let key = match fs::read(path) {
            Ok(bytes) => {
                let mode = fs::metadata(path)
                    .with_context(|| format!("stat {}", path.display()))?
                    .permissions()
                    .mode();
                anyhow::ensure!(
                    mode & 0o077 == 0,
                    "secret key {} is readable by others (mode {:o}): chmod 600 it",
                    path.display(),
                    mode & 0o777
                );
                anyhow::ensure!(
                    bytes.len() == 32,
                    "secret key {} is not 32 bytes: restore it from backup",
                    path.display()
                );
                bytes
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::random();
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .with_context(|| format!("create secret key {}", path.display()))?;
                f.write_all(&key)
                    .and_then(|()| f.sync_all())
                    .with_context(|| format!("write secret key {}", path.display()))?;
                key.to_vec()
            }
            Err(e) => return Err(e).with_context(|| format!("read secret key {}", path.display())),
        };
        Ok(Sealer {
            cipher: XChaCha20Poly1305::new(Key::from_slice(&key)),
        })
    }

    /// A sealer with a random key, for tests.
    pub fn ephemeral() -> Sealer {
        let key: [u8; 32] = rand::random();
        Sealer {
            cipher: XChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }

    /// Seals `plain`: nonce followed by ciphertext and tag.
    pub fn seal(&self, plain: &str) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let mut out = nonce.to_vec();
        // Encryption with a valid key and nonce length cannot fail.
        out.extend(
            self.cipher
                .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
                .unwrap_or_default(),
        );
        out
    }

    /// Opens what [`seal`](Self::seal) made; `None` if it was tampered with or the key differs.
    pub fn open(&self, sealed: &[u8]) -> Option<String> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let plain = self.cipher.decrypt(XNonce::from_slice(nonce), ct).ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_hides_the_secret() {
        let s = Sealer::ephemeral();
        let sealed = s.seal("hunter2-very-secret");
        assert!(!sealed.windows(6).any(|w| w == b"hunter"));
        assert_eq!(s.open(&sealed).as_deref(), Some("hunter2-very-secret"));
        assert_eq!(Sealer::ephemeral().open(&sealed), None);
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let a = Sealer::load_or_create(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let b = Sealer::load_or_create(&path).unwrap();
        assert_eq!(b.open(&a.seal("x")).as_deref(), Some("x"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(Sealer::load_or_create(&path).is_err());
    }
}
