//! TLS for QUIC: the server's identity (a certificate and key from PEM files, or a
//! self-signed development certificate made at start), the SHA-256 fingerprint clients pin,
//! and the client's pinning verifier.
//!
//! Pinning is how a game client trusts a development server (or a server whose certificate it
//! ships with): the client compares the SHA-256 of the server's end-entity certificate with
//! the fingerprint it was given, and still checks the handshake signature with that
//! certificate's key. No certificate authority is involved.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// The ALPN protocol both ends speak.
pub const ALPN: &[u8] = b"matchwright/1";

/// The crypto provider (ring) both ends use.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server's certificate chain and private key.
#[derive(Debug)]
pub struct Identity {
    /// The chain, end-entity first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl Identity {
    /// A new self-signed certificate for `localhost` and `127.0.0.1` (development).
    pub fn self_signed() -> Result<Self, String> {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let certified = rcgen::generate_simple_self_signed(names)
            .map_err(|error| format!("could not make a development certificate: {error}"))?;
        Ok(Self {
            chain: vec![certified.cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                certified.signing_key.serialize_der(),
            )),
        })
    }

    /// The development identity kept in `dir` (`quic-dev-cert.pem`, `quic-dev-key.pem`): read
    /// if there, else made self-signed and written, so the fingerprint clients pinned
    /// survives restarts. Delete the files to get a new one.
    pub fn development(dir: &Path) -> Result<Self, String> {
        let cert = dir.join(DEV_CERT_FILE);
        let key = dir.join(DEV_KEY_FILE);
        if cert.exists() && key.exists() {
            return Self::from_pem_files(&cert, &key);
        }
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let certified = rcgen::generate_simple_self_signed(names)
            .map_err(|error| format!("could not make a development certificate: {error}"))?;
        write_private(&key, certified.signing_key.serialize_pem().as_bytes())?;
        std::fs::write(&cert, certified.cert.pem())
            .map_err(|error| format!("cannot write {}: {error}", cert.display()))?;
        Self::from_pem_files(&cert, &key)
    }

    /// Reads a PEM certificate chain and a PEM private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, String> {
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|error| format!("cannot read the certificate {}: {error}", cert.display()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("the certificate {} is not PEM: {error}", cert.display()))?;
        if chain.is_empty() {
            return Err(format!(
                "the certificate file {} holds no certificate",
                cert.display()
            ));
        }
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|error| format!("cannot read the private key {}: {error}", key.display()))?;
        Ok(Self { chain, key })
    }

    /// The SHA-256 fingerprint of the end-entity certificate, as lowercase hex.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&self.chain[0])
    }
}

/// The development certificate's file in a server's data directory.
pub const DEV_CERT_FILE: &str = "quic-dev-cert.pem";
/// Its private key's file.
pub const DEV_KEY_FILE: &str = "quic-dev-key.pem";

/// The fingerprint a client pins: `given` (64 hex digits), else that of the development
/// certificate in the server's `data_dir` (only the certificate is read, not the key).
pub fn pinned_fingerprint(given: Option<&str>, data_dir: Option<&Path>) -> Result<String, String> {
    if let Some(given) = given {
        return parse_fingerprint(given);
    }
    let Some(dir) = data_dir else {
        return Err(
            "give the server's certificate fingerprint (matchwright serve prints it) or its data directory (its development certificate)".into(),
        );
    };
    let cert = dir.join(DEV_CERT_FILE);
    let first = CertificateDer::pem_file_iter(&cert)
        .map_err(|error| format!("cannot read {}: {error}", cert.display()))?
        .next()
        .ok_or_else(|| format!("{} holds no certificate", cert.display()))?
        .map_err(|error| format!("{} is not PEM: {error}", cert.display()))?;
    Ok(fingerprint_of(&first))
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// The SHA-256 of a certificate's DER, as lowercase hex (what clients pin).
pub fn fingerprint_of(cert: &CertificateDer<'_>) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
    digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Parses a fingerprint given as 64 hex digits, with or without `:` separators.
pub fn parse_fingerprint(text: &str) -> Result<String, String> {
    let hex: String = text
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "a certificate fingerprint is 64 hex digits (SHA-256), optionally `:`-separated; got {text:?}"
        ));
    }
    Ok(hex)
}

/// Accepts exactly the server certificate whose SHA-256 is pinned.
#[derive(Debug)]
pub struct PinnedCertificate {
    fingerprint: String,
    provider: Arc<CryptoProvider>,
}

impl PinnedCertificate {
    /// A verifier for `fingerprint` (see [`parse_fingerprint`]).
    pub fn new(fingerprint: &str) -> Result<Self, String> {
        Ok(Self {
            fingerprint: parse_fingerprint(fingerprint)?,
            provider: provider(),
        })
    }
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let found = fingerprint_of(end_entity);
        if found == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server's certificate has fingerprint {found}, not the pinned {}",
                self.fingerprint
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The rustls server config: TLS 1.3, ALPN `matchwright/1`, no client certificates.
pub fn server_crypto(identity: &Identity) -> Result<rustls::ServerConfig, String> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|error| format!("TLS 1.3 is not available: {error}"))?
        .with_no_client_auth()
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(|error| format!("the certificate and key do not make a TLS identity: {error}"))?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

/// The rustls client config that trusts only the pinned certificate.
pub fn client_crypto(fingerprint: &str) -> Result<rustls::ClientConfig, String> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|error| format!("TLS 1.3 is not available: {error}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCertificate::new(fingerprint)?))
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn fingerprints_are_sha256_hex_and_parse_with_colons() {
        let identity = Identity::self_signed().unwrap();
        let fingerprint = identity.fingerprint();
        assert_eq!(fingerprint.len(), 64);
        let colons: Vec<String> = fingerprint
            .as_bytes()
            .chunks(2)
            .map(|pair| String::from_utf8(pair.to_vec()).unwrap().to_uppercase())
            .collect();
        assert_eq!(parse_fingerprint(&colons.join(":")).unwrap(), fingerprint);
        assert!(
            parse_fingerprint("abc")
                .unwrap_err()
                .contains("64 hex digits")
        );
        assert!(server_crypto(&identity).is_ok());
        assert!(client_crypto(&fingerprint).is_ok());
    }

    #[test]
    fn pem_files_load_and_bad_ones_are_named() {
        let dir = std::env::temp_dir().join(format!("mw-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        let identity = Identity::from_pem_files(&cert, &key).unwrap();
        assert_eq!(identity.fingerprint(), fingerprint_of(certified.cert.der()));
        std::fs::write(&key, "not a key").unwrap();
        let error = Identity::from_pem_files(&cert, &key).unwrap_err();
        assert!(error.contains("key.pem"), "{error}");
        // The development identity is kept and read back.
        let made = Identity::development(&dir).unwrap();
        let again = Identity::development(&dir).unwrap();
        assert_eq!(made.fingerprint(), again.fingerprint());
        // A client pins it from the data directory, or from what it was given.
        assert_eq!(
            pinned_fingerprint(None, Some(&dir)).unwrap(),
            made.fingerprint()
        );
        assert!(pinned_fingerprint(Some("xyz"), Some(&dir)).is_err());
        assert!(
            pinned_fingerprint(None, None)
                .unwrap_err()
                .contains("fingerprint")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
