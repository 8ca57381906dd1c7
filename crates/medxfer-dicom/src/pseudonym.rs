//! Salted one-way pseudonyms for identifiers (PatientID, UIDs) written to medxfer outputs.

use sha2::{Digest, Sha256};

/// Maps identifiers to salted SHA-256 pseudonyms. The same salt gives the same pseudonym
/// across runs (so patient-grouped splits stay stable); without the salt a pseudonym
/// cannot be checked against a guessed PatientID.
#[derive(Debug, Clone)]
pub struct Pseudonymizer {
    salt: String,
}

impl Pseudonymizer {
    pub fn new(salt: impl Into<String>) -> Self {
        Pseudonymizer { salt: salt.into() }
    }

    /// A random salt (for one-off conversions where stable pseudonyms are not needed).
    pub fn random_salt() -> String {
        hex(&rand::random::<[u8; 16]>())
    }

    /// `kind` separates namespaces (a PatientID equal to a UID gets a different pseudonym).
    /// Empty identifiers stay empty.
    pub fn pseudonym(&self, kind: &str, value: &str) -> String {
        let value = value.trim();
        if value.is_empty() {
            return String::new();
        }
        let mut hasher = Sha256::new();
        for part in [self.salt.as_str(), kind, value] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        hex(&hasher.finalize())[..20].to_string()
    }

    /// A new DICOM UID for `uid` under the `2.25` (UUID-derived) root, the same for the same
    /// input and salt, so references between de-identified files stay consistent.
    pub fn replacement_uid(&self, uid: &str) -> String {
        let mut hasher = Sha256::new();
        for part in [self.salt.as_str(), "uid", uid.trim_end_matches('\0').trim()] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        // Mark as a version-4 style UUID so the decimal form is a valid 2.25 UID.
        bytes[6] = (bytes[6] & 0x0F) | 0x40;
        bytes[8] = (bytes[8] & 0x3F) | 0x80;
        format!("2.25.{}", u128::from_be_bytes(bytes))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_depend_on_salt_and_kind_and_hide_the_value() {
        let a = Pseudonymizer::new("s1");
        let b = Pseudonymizer::new("s2");
        let p = a.pseudonym("patient", "12345");
        assert_eq!(p, a.pseudonym("patient", "12345"));
        assert_ne!(p, b.pseudonym("patient", "12345"));
        assert_ne!(p, a.pseudonym("study", "12345"));
        assert!(!p.contains("12345"));
        assert_eq!(a.pseudonym("patient", "  "), "");
    }

    #[test]
    fn replacement_uids_are_valid_and_consistent() {
        let p = Pseudonymizer::new("salt");
        let uid = p.replacement_uid("1.2.3.4");
        assert_eq!(uid, p.replacement_uid("1.2.3.4"));
        assert_ne!(uid, p.replacement_uid("1.2.3.5"));
        assert!(uid.len() <= 64 && uid.starts_with("2.25."));
        assert!(uid.chars().all(|c| c.is_ascii_digit() || c == '.'));
    }
}
