//! Pseudonymous subject IDs: HMAC-SHA256 of the original ID under a project key.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Turns original subject IDs into stable pseudonyms.
///
/// The pseudonym is the first 16 bytes (32 hex digits) of HMAC-SHA256(key, source ‖ 0x00 ‖ id),
/// so the same person gets different pseudonyms in two sources unless the sources share an ID
/// namespace on purpose (same `subject_namespace` in `datasets.toml`). Without the key a
/// pseudonym cannot be reversed or recomputed.
///
/// ```
/// use bomdata_ingest::Pseudonymizer;
/// let p = Pseudonymizer::new(b"project key".to_vec());
/// let a = p.pseudonym("ukb", "1234567");
/// assert_eq!(a.len(), 32);
/// assert_eq!(a, p.pseudonym("ukb", "1234567"));
/// assert_ne!(a, p.pseudonym("ukb", "1234568"));
/// ```
#[derive(Clone)]
pub struct Pseudonymizer {
    key: Vec<u8>,
    keyed: bool,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonymizer")
            .field("keyed", &self.keyed)
            .finish_non_exhaustive()
    }
}

impl Pseudonymizer {
    /// A pseudonymizer with a secret project key.
    pub fn new(key: Vec<u8>) -> Self {
        Pseudonymizer { key, keyed: true }
    }

    /// A pseudonymizer with a fixed public key, for open data only (`--allow-unkeyed`).
    pub fn unkeyed() -> Self {
        Pseudonymizer {
            key: b"bomdata-unkeyed".to_vec(),
            keyed: false,
        }
    }

    /// Whether a secret key is in use.
    pub fn is_keyed(&self) -> bool {
        self.keyed
    }

    /// The pseudonym of `id` in namespace `namespace` (usually the source name).
    pub fn pseudonym(&self, namespace: &str, id: &str) -> String {
        // SAFETY-like invariant: HMAC accepts keys of any length, so new_from_slice cannot fail.
        #[allow(clippy::expect_used)]
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("hmac takes keys of any length");
        mac.update(namespace.as_bytes());
        mac.update(&[0]);
        mac.update(id.as_bytes());
        let out = mac.finalize().into_bytes();
        hex::encode(&out[..16])
    }

    /// A check value of the key: the HMAC of a fixed string under it (never the key itself), so
    /// a resumed run can tell that it was given the same key.
    pub fn key_check(&self) -> String {
        self.pseudonym("bomdata key check", "v1")
    }
}
