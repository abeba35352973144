//! Optional TLS on the sync listener and its data ports: a certificate chain and a private key
//! read from PEM files, served with rustls (ring provider, TLS 1.2 and 1.3).
//!
//! The line protocol is unchanged inside TLS. A client that speaks plain TCP to a TLS port
//! fails the handshake and is closed; the handshake must finish within [`HANDSHAKE_TIMEOUT`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Longest a client may take to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the sync listener's TLS files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("camera_sync.tls: cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file is not valid PEM.
    #[error("camera_sync.tls: {path} is not a valid PEM file: {source}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: pem::Error,
    },
    /// The certificate file holds no `CERTIFICATE` section.
    #[error("camera_sync.tls: {path} holds no PEM certificate")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no private key (PKCS#8, PKCS#1 or SEC1).
    #[error("camera_sync.tls: {path} holds no PEM private key")]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the pair (unsupported key, key not matching the certificate, …).
    #[error("camera_sync.tls: certificate {cert} with key {key} refused: {source}")]
    Refused {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        source: rustls::Error,
    },
}

/// The TLS side of the sync server: cheap to clone.
#[derive(Clone)]
pub struct SyncTls {
    acceptor: TlsAcceptor,
}

impl fmt::Debug for SyncTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncTls").finish_non_exhaustive()
    }
}

impl SyncTls {
    /// Reads a PEM certificate chain (leaf first) and a PEM private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let cert_pem = read(cert)?;
        let key_pem = read(key)?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| TlsError::Pem {
                path: cert.to_owned(),
                source,
            })?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate {
                path: cert.to_owned(),
            });
        }
        let private = match PrivateKeyDer::from_pem_slice(&key_pem) {
            Ok(private) => private,
            Err(pem::Error::NoItemsFound) => {
                return Err(TlsError::NoKey {
                    path: key.to_owned(),
                });
            }
            Err(source) => {
                return Err(TlsError::Pem {
                    path: key.to_owned(),
                    source,
                });
            }
        };
        let refused = |source| TlsError::Refused {
            cert: cert.to_owned(),
            key: key.to_owned(),
            source,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(refused)?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(refused)?;
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Runs the server side of the handshake, within [`HANDSHAKE_TIMEOUT`].
    pub async fn accept(&self, stream: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out")
            })?
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<SyncTls, TlsError>) -> String {
        result.expect_err("refused").to_string()
    }

    #[test]
    fn a_missing_file_names_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("nope.pem");
        let text = message(SyncTls::from_pem_files(&cert, &cert));
        assert!(
            text.contains("cannot read") && text.contains("nope.pem"),
            "{text}"
        );
    }

    #[test]
    fn files_without_pem_sections_are_refused_clearly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").expect("write");
        let text = message(SyncTls::from_pem_files(&junk, &junk));
        assert!(text.contains("holds no PEM certificate"), "{text}");
    }

    #[test]
    fn a_certificate_file_given_as_the_key_is_refused_clearly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("cert.pem");
        // Any syntactically valid CERTIFICATE section will do for this check.
        std::fs::write(
            &cert,
            "-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let text = message(SyncTls::from_pem_files(&cert, &cert));
        assert!(text.contains("holds no PEM private key"), "{text}");
    }
}
