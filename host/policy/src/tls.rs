//! The certificates outgoing HTTPS trusts, for both hosts (feature `tls`):
//! the webpki roots wasmtime-wasi-http trusts, plus the operator's extra CA
//! bundle (`host.extra_ca_file`: a private CA, or a TLS-inspecting proxy), as
//! a ready rustls client configuration with the `ring` provider. Blocking or
//! async I/O is the host's own; this module has none.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, InvalidDnsNameError, ServerName};
use rustls::{ClientConfig, RootCertStore};

/// The trusted roots, built once when the policy is loaded.
#[derive(Clone)]
pub struct Trust {
    config: Arc<ClientConfig>,
    extra: Option<(PathBuf, usize)>,
}

/// Why the trusted roots could not be built; the message names the file.
#[derive(Debug)]
pub enum TrustError {
    Read(PathBuf, std::io::Error),
    Pem(PathBuf, String),
    Empty(PathBuf),
    BadCert(PathBuf, usize, rustls::Error),
    Rustls(rustls::Error),
}

impl fmt::Display for TrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustError::Read(p, e) => write!(f, "cannot read CA file {}: {e}", p.display()),
            TrustError::Pem(p, e) => write!(f, "CA file {} is not valid PEM: {e}", p.display()),
            TrustError::Empty(p) => write!(
                f,
                "CA file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                p.display()
            ),
            TrustError::BadCert(p, n, e) => write!(
                f,
                "certificate {n} in CA file {} cannot be a trust anchor: {e}",
                p.display()
            ),
            TrustError::Rustls(e) => write!(f, "cannot set up TLS: {e}"),
        }
    }
}

impl std::error::Error for TrustError {}

impl Trust {
    /// The webpki roots, plus every certificate in the PEM file `extra_ca`.
    pub fn new(extra_ca: Option<&Path>) -> Result<Trust, TrustError> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let extra = match extra_ca {
            Some(path) => Some((path.to_path_buf(), add_pem(&mut roots, path)?)),
            None => None,
        };
        // The provider wasmtime-wasi-http's rustls features select (`ring`),
        // named so a second provider elsewhere in the build cannot make the
        // choice ambiguous.
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(TrustError::Rustls)?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(Trust {
            config: Arc::new(config),
            extra,
        })
    }

    /// The client configuration every TLS connection of the host starts from.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    pub fn extra_ca_file(&self) -> Option<&Path> {
        self.extra.as_ref().map(|(p, _)| p.as_path())
    }
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trust")
            .field("webpki_roots", &webpki_roots::TLS_SERVER_ROOTS.len())
            .field("extra_ca", &self.extra)
            .finish()
    }
}

fn add_pem(roots: &mut RootCertStore, path: &Path) -> Result<usize, TrustError> {
    let pem = std::fs::read(path).map_err(|e| TrustError::Read(path.to_path_buf(), e))?;
    let mut n = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| TrustError::Pem(path.to_path_buf(), e.to_string()))?;
        n += 1;
        roots
            .add(cert)
            .map_err(|e| TrustError::BadCert(path.to_path_buf(), n, e))?;
    }
    if n == 0 {
        return Err(TrustError::Empty(path.to_path_buf()));
    }
    Ok(n)
}

/// The name rustls verifies the certificate against and sends as SNI: the
/// URL's host (brackets already removed), whatever address was reached.
pub fn server_name(host: &str) -> Result<ServerName<'static>, InvalidDnsNameError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ServerName::from(ip));
    }
    ServerName::try_from(host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = std::env::temp_dir().join(format!("wasiclaw-trust-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        let err = Trust::new(Some(&ca)).unwrap_err();
        assert!(matches!(err, TrustError::Read(..)), "{err}");
        std::fs::write(&ca, "not a certificate\n").unwrap();
        let err = Trust::new(Some(&ca)).unwrap_err().to_string();
        assert!(err.contains("holds no PEM certificate"), "{err}");
        let junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        std::fs::write(&ca, junk).unwrap();
        let err = Trust::new(Some(&ca)).unwrap_err().to_string();
        assert!(err.contains("certificate 1 in CA file"), "{err}");
        let plain = Trust::new(None).unwrap();
        assert_eq!(plain.extra_ca_file(), None);
        assert!(format!("{plain:?}").contains("webpki_roots"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn server_names_are_the_url_host() {
        assert!(matches!(
            server_name("api.openai.com"),
            Ok(ServerName::DnsName(_))
        ));
        assert!(matches!(server_name("::1"), Ok(ServerName::IpAddress(_))));
        assert!(server_name("bad name").is_err());
    }
}
