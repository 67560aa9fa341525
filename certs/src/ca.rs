//! The certificate authority: self-signed CA, server certificates, and runner client certificates signed from CSRs.
//! All keys are ECDSA P-256. Serial numbers are random, so a renewed certificate for the same key never repeats one.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber, SubjectPublicKeyInfo, PKCS_ECDSA_P256_SHA256,
};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateSigningRequestDer;
use x509_parser::prelude::FromDer;

use crate::{check_name, fingerprint, first_cert_der, runner_uri, CertError};

/// Certificates start this long before "now", so a peer whose clock is a little behind still accepts them.
const CLOCK_SKEW: Duration = Duration::from_secs(300);
/// Latest instant X.509 can express (9999-12-31T23:59:59Z), in epoch milliseconds.
const MAX_TIME_MS: u64 = 253_402_300_799_000;

/// The control plane's certificate authority.
pub struct Ca {
    cert_pem: String,
    key: KeyPair,
    /// The CA certificate as rcgen needs it to sign (subject and key identifier of the real one).
    issuer: rcgen::Certificate,
}

/// A private key (PKCS#8 PEM) and its certificate (PEM).
#[derive(Clone)]
pub struct KeyAndCert {
    pub key_pem: String,
    pub cert_pem: String,
}

/// A runner certificate as issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedCert {
    pub cert_pem: String,
    /// SHA-256 hex of the certificate's DER bytes.
    pub fingerprint: String,
    /// Expiry in epoch milliseconds (X.509 keeps whole seconds).
    pub not_after_ms: u64,
}

/// A private key (PKCS#8 PEM) and a certificate signing request for it (PEM).
#[derive(Clone)]
pub struct KeyAndCsr {
    pub key_pem: String,
    pub csr_pem: String,
}

// Keys stay out of logs and panic messages.
impl fmt::Debug for KeyAndCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyAndCert").field("cert_pem", &self.cert_pem).finish_non_exhaustive()
    }
}

impl fmt::Debug for KeyAndCsr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyAndCsr").field("csr_pem", &self.csr_pem).finish_non_exhaustive()
    }
}

impl fmt::Debug for Ca {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ca").field("cert_pem", &self.cert_pem).finish_non_exhaustive()
    }
}

impl Ca {
    /// A new self-signed CA valid from now (less a little clock skew) for `validity_days`.
    pub fn generate(common_name: &str, validity_days: u32) -> Result<Ca, CertError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name_dn(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params.serial_number = Some(random_serial()?);
        set_validity_days(&mut params, validity_days)?;
        let issuer = params.self_signed(&key)?;
        Ok(Ca { cert_pem: issuer.pem(), key, issuer })
    }

    /// Loads a CA from its certificate and private key, checking that they belong together.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Ca, CertError> {
        let key = KeyPair::from_pem(key_pem).map_err(|e| CertError::Parse { what: "CA key", reason: e.to_string() })?;
        let der = first_cert_der(cert_pem)?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| CertError::Parse { what: "CA certificate", reason: e.to_string() })?;
        if cert.public_key().raw != key.public_key_der().as_slice() {
            return Err(CertError::KeyMismatch);
        }
        if !cert.is_ca() {
            return Err(CertError::Parse { what: "CA certificate", reason: "not a CA certificate".into() });
        }
        let params = CertificateParams::from_ca_cert_der(&der)?;
        let issuer = params.self_signed(&key)?;
        Ok(Ca { cert_pem: cert_pem.to_string(), key, issuer })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA's private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// Server certificate for these DNS names / IP addresses ("localhost", "127.0.0.1", …), with a new key.
    pub fn issue_server(&self, names: &[String], validity_days: u32) -> Result<KeyAndCert, CertError> {
        let first = names.first().ok_or_else(|| CertError::Validity("a server certificate needs a name".into()))?;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(names.to_vec())?;
        params.distinguished_name = common_name_dn(first);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial()?);
        set_validity_days(&mut params, validity_days)?;
        let cert = params.signed_by(&key, &self.issuer, &self.key)?;
        Ok(KeyAndCert { key_pem: key.serialize_pem(), cert_pem: cert.pem() })
    }

    /// Client certificate from a runner's CSR: CN = `runner_id`, URI SAN = [`runner_uri`]`(tenant, runner_id)`,
    /// valid from `not_before_ms` to `not_after_ms` (epoch ms). The CSR's signature is checked (proof that the
    /// runner holds the key); its subject and requested extensions are ignored.
    pub fn sign_runner_csr(
        &self,
        csr_pem: &str,
        tenant: &str,
        runner_id: &str,
        not_before_ms: u64,
        not_after_ms: u64,
    ) -> Result<IssuedCert, CertError> {
        check_name("tenant", tenant)?;
        check_name("runner id", runner_id)?;
        if not_before_ms >= not_after_ms || not_after_ms > MAX_TIME_MS {
            return Err(CertError::Validity(format!("{not_before_ms}..{not_after_ms} ms is not a valid period")));
        }
        let public_key = csr_public_key(csr_pem)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name_dn(runner_id);
        let uri = runner_uri(tenant, runner_id)
            .try_into()
            .map_err(|e: rcgen::Error| CertError::InvalidName { what: "runner URI", value: e.to_string() })?;
        params.subject_alt_names = vec![SanType::URI(uri)];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial()?);
        params.not_before = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_millis(not_before_ms);
        params.not_after = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_millis(not_after_ms);
        let cert = params.signed_by(&public_key, &self.issuer, &self.key)?;
        let cert_pem = cert.pem();
        Ok(IssuedCert {
            fingerprint: fingerprint(cert.der()),
            not_after_ms: crate::cert_not_after_ms(&cert_pem)?,
            cert_pem,
        })
    }
}

/// A new ECDSA P-256 key and a CSR for it with subject CN = `common_name`.
pub fn generate_key_and_csr(common_name: &str) -> Result<KeyAndCsr, CertError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name_dn(common_name);
    let csr = params.serialize_request(&key)?;
    Ok(KeyAndCsr { key_pem: key.serialize_pem(), csr_pem: csr.pem()? })
}

/// The public key of a CSR whose self-signature verifies.
fn csr_public_key(csr_pem: &str) -> Result<SubjectPublicKeyInfo, CertError> {
    let invalid = |reason: String| CertError::InvalidCsr(reason);
    let der = CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes())
        .map_err(|_| invalid("no CERTIFICATE REQUEST block in the PEM text".into()))?;
    let (rest, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(&der)
        .map_err(|e| invalid(e.to_string()))?;
    if !rest.is_empty() {
        return Err(invalid("trailing bytes after the request".into()));
    }
    csr.verify_signature().map_err(|_| invalid("the request's signature does not verify".into()))?;
    SubjectPublicKeyInfo::from_der(csr.certification_request_info.subject_pki.raw)
        .map_err(|e| invalid(format!("unsupported public key: {e}")))
}

fn common_name_dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

fn set_validity_days(params: &mut CertificateParams, days: u32) -> Result<(), CertError> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let from = now.saturating_sub(CLOCK_SKEW);
    let to = now + Duration::from_secs(u64::from(days) * 86_400);
    if days == 0 || to.as_millis() > u128::from(MAX_TIME_MS) {
        return Err(CertError::Validity(format!("{days} days")));
    }
    params.not_before = rcgen::date_time_ymd(1970, 1, 1) + from;
    params.not_after = rcgen::date_time_ymd(1970, 1, 1) + to;
    Ok(())
}

/// 16 random bytes, positive and without a leading zero byte, as RFC 5280 serial numbers want.
fn random_serial() -> Result<SerialNumber, CertError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new().fill(&mut bytes).map_err(|_| rcgen::Error::RingUnspecified)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now_ms() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
    }

    #[test]
    fn ca_round_trips_through_pem() {
        let ca = Ca::generate("TRACEFLOW test CA", 30).unwrap();
        let loaded = Ca::from_pem(ca.cert_pem(), &ca.key_pem()).unwrap();
        assert_eq!(loaded.cert_pem(), ca.cert_pem());
        // A certificate issued by the loaded CA chains to the original certificate.
        let server = loaded.issue_server(&["localhost".into(), "127.0.0.1".into()], 10).unwrap();
        let der = first_cert_der(&server.cert_pem).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let ca_der = first_cert_der(ca.cert_pem()).unwrap();
        let (_, ca_cert) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
        cert.verify_signature(Some(ca_cert.public_key())).unwrap();
        assert_eq!(cert.issuer(), ca_cert.subject());

        let other = Ca::generate("other", 30).unwrap();
        assert!(matches!(Ca::from_pem(ca.cert_pem(), &other.key_pem()), Err(CertError::KeyMismatch)));
        assert!(Ca::from_pem("garbage", &ca.key_pem()).is_err());
        assert!(Ca::from_pem(&server.cert_pem, &server.key_pem).is_err(), "a leaf is not a CA");
    }

    #[test]
    fn runner_certificate_carries_identity_and_expiry() {
        let ca = Ca::generate("ca", 30).unwrap();
        let csr = generate_key_and_csr("whatever-the-runner-asks").unwrap();
        let not_after = now_ms() + 3_600_000;
        let issued = ca.sign_runner_csr(&csr.csr_pem, "acme", "r_abc", now_ms() - 1000, not_after).unwrap();
        assert_eq!(issued.not_after_ms, not_after / 1000 * 1000);
        assert_eq!(crate::cert_not_after_ms(&issued.cert_pem).unwrap(), issued.not_after_ms);
        let der = first_cert_der(&issued.cert_pem).unwrap();
        assert_eq!(issued.fingerprint, fingerprint(&der));
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let cn = cert.subject().iter_common_name().next().unwrap().as_str().unwrap();
        assert_eq!(cn, "r_abc");
        let san = cert.subject_alternative_name().unwrap().unwrap();
        let uris: Vec<String> = san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                x509_parser::extensions::GeneralName::URI(u) => Some(u.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(uris, vec!["traceflow://acme/runner/r_abc".to_string()]);
        // The certificate is for the CSR's key.
        let key = KeyPair::from_pem(&csr.key_pem).unwrap();
        assert_eq!(cert.public_key().raw, key.public_key_der().as_slice());
    }

    #[test]
    fn bad_requests_are_refused() {
        let ca = Ca::generate("ca", 30).unwrap();
        let csr = generate_key_and_csr("r").unwrap();
        let now = now_ms();
        assert!(matches!(ca.sign_runner_csr("nope", "t", "r", now, now + 1), Err(CertError::InvalidCsr(_))));
        let mut tampered = csr.csr_pem.replace("\n", "");
        tampered.insert(120, 'A');
        assert!(ca.sign_runner_csr(&tampered, "t", "r", now, now + 1).is_err());
        assert!(matches!(
            ca.sign_runner_csr(&csr.csr_pem, "t/x", "r", now, now + 1),
            Err(CertError::InvalidName { .. })
        ));
        assert!(matches!(ca.sign_runner_csr(&csr.csr_pem, "t", "r", now, now), Err(CertError::Validity(_))));
        assert!(ca.sign_runner_csr(&csr.csr_pem, "t", "r", 0, u64::MAX).is_err());
        assert!(ca.issue_server(&[], 1).is_err());
    }
}
