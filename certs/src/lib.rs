//! TRACEFLOW's PKI: the control plane's certificate authority, runner certificates issued from CSRs, and the
//! rustls configurations both sides of the mTLS link are built from.
//!
//! In the data flow this crate sits on the wire between runner and control plane. `traceflow-cp init` makes a
//! [`Ca`] and a server certificate ([`Ca::issue_server`]); a runner makes its key pair and CSR locally
//! ([`generate_key_and_csr`], the private key never leaves it) and the control plane signs it
//! ([`Ca::sign_runner_csr`]) into a client certificate that names the runner in a URI SAN ([`runner_uri`]) and is
//! identified by its SHA-256 [`fingerprint`]. [`server_config`] and [`client_config`] turn these into TLS 1.3-only
//! rustls configurations (the HTTPS client and the servers that use them are `traceflow-http`'s).

#![forbid(unsafe_code)]

mod ca;
mod files;
mod tls;

pub use ca::{generate_key_and_csr, Ca, IssuedCert, KeyAndCert, KeyAndCsr};
pub use files::write_private;
pub use tls::{client_config, server_config};

use sha2::{Digest, Sha256};

/// Everything that can go wrong building or reading certificates and keys.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("no certificate in the PEM text")]
    NoCertificate,
    #[error("no private key in the PEM text")]
    NoPrivateKey,
    #[error("cannot parse {what}: {reason}")]
    Parse { what: &'static str, reason: String },
    #[error("the private key does not belong to the certificate")]
    KeyMismatch,
    #[error("invalid certificate signing request: {0}")]
    InvalidCsr(String),
    #[error("invalid {what} `{value}`: use 1 to 128 characters of [A-Za-z0-9._-]")]
    InvalidName { what: &'static str, value: String },
    #[error("invalid validity: {0}")]
    Validity(String),
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
}

/// The URI SAN a runner certificate carries: `traceflow://<tenant>/runner/<runner_id>`.
pub fn runner_uri(tenant: &str, runner_id: &str) -> String {
    format!("traceflow://{tenant}/runner/{runner_id}")
}

/// Lowercase hex SHA-256 of a certificate's DER bytes; how the control plane recognises the certificates it issued.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Expiry (`notAfter`) of the first certificate in `cert_pem`, in epoch milliseconds.
pub fn cert_not_after_ms(cert_pem: &str) -> Result<u64, CertError> {
    let der = first_cert_der(cert_pem)?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| CertError::Parse { what: "certificate", reason: e.to_string() })?;
    Ok(u64::try_from(cert.validity().not_after.timestamp()).unwrap_or(0).saturating_mul(1000))
}

/// DER of the first certificate in `pem`.
pub(crate) fn first_cert_der(pem: &str) -> Result<rustls::pki_types::CertificateDer<'static>, CertError> {
    cert_chain(pem)?.into_iter().next().ok_or(CertError::NoCertificate)
}

/// Every certificate in `pem`, in order; an error if there is none.
pub(crate) fn cert_chain(pem: &str) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, CertError> {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::Parse { what: "certificate PEM", reason: e.to_string() })?;
    if certs.is_empty() {
        return Err(CertError::NoCertificate);
    }
    Ok(certs)
}

/// Tenant and runner ids go into a URI and an ASN.1 IA5String, so they are kept to a safe alphabet.
pub(crate) fn check_name(what: &'static str, value: &str) -> Result<(), CertError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(CertError::InvalidName { what, value: value.to_string() })
    }
}
