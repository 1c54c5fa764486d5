//! TLS for the HTTP client: trusting `--ca-cert` the way curl's `--cacert` does, client
//! certificates, and TLS failures told in terms a QSEoW admin acts on.
//!
//! `--ca-cert` bundle: a server certificate is trusted when it chains to a certificate of the
//! bundle (rustls/webpki path validation), or when it *is* a certificate of the bundle, byte for
//! byte. The second case is what `openssl req -x509` makes and many sites use as the server
//! certificate: a self-signed certificate with `CA:TRUE`, which path validation refuses as an
//! end-entity certificate while curl and OpenSSL accept it once it is in the trust store. Such a
//! pinned certificate must still be valid now and name the host.
//!
//! Without `--ca-cert` the operating system's trust store decides (as reqwest does by default).
//! Either way, trust is told before dates: an expired certificate from an authority nobody
//! trusts is reported as untrusted, since renewing it would not help.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    AlertDescription, CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::TlsOptions;
use crate::error::{Error, Result};
use crate::input::{InputKind, read_file};

const CA_HINT: &str =
    "--ca-cert expects PEM certificates: the site's root.pem, or the server certificate itself";

/// The certificates of a `--ca-cert` PEM bundle.
pub(crate) fn load_ca_bundle(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read_file(path, InputKind::Credential)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| {
            Error::input(format!("{} is not a PEM certificate", path.display())).with_hint(CA_HINT)
        })?;
    if certs.is_empty() {
        return Err(
            Error::input(format!("{} contains no PEM certificate", path.display()))
                .with_hint(CA_HINT),
        );
    }
    Ok(certs)
}

/// The rustls configuration: the `--ca-cert` bundle or the system's trust store, trust checked
/// before dates (`None` with `--insecure`: reqwest's own configuration applies then). ALPN offers
/// HTTP/2 unless `http1_only`.
pub(crate) fn client_config(
    tls: &TlsOptions,
    http1_only: bool,
) -> Result<Option<rustls::ClientConfig>> {
    if tls.insecure {
        return Ok(None);
    }
    let alpn: &[&[u8]] = if http1_only {
        &[b"http/1.1"]
    } else {
        &[b"h2", b"http/1.1"]
    };
    build_config(tls, alpn).map(Some)
}

/// The rustls configuration of a WebSocket to the engine (QIX), which reqwest does not carry:
/// the same trust as the HTTP client (`--insecure` included) and the context's client
/// certificate. ALPN offers HTTP/1.1 only: a WebSocket upgrade is an HTTP/1.1 request.
pub(crate) fn websocket_config(tls: &TlsOptions) -> Result<rustls::ClientConfig> {
    if tls.insecure {
        super::warn_insecure();
    }
    build_config(tls, &[b"http/1.1"])
}

fn build_config(tls: &TlsOptions, alpn: &[&[u8]]) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match &tls.ca_cert {
        _ if tls.insecure => Arc::new(AnyCertificate {
            provider: provider.clone(),
        }),
        Some(ca) => Arc::new(TrustFirst {
            inner: Arc::new(BundleVerifier::new(load_ca_bundle(ca)?, provider.clone())),
        }),
        None => Arc::new(TrustFirst {
            inner: Arc::new(
                rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
                    Error::tls(format!(
                        "cannot read the system's trusted certificates: {e}"
                    ))
                    .with_hint("pass --ca-cert ROOT.pem (the server's root CA)")
                })?,
            ),
        }),
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::tls(format!("cannot configure TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &tls.client_cert {
        None => builder.with_no_client_auth(),
        Some(cc) => {
            let (certs, key) = super::client_cert::load(cc, tls.cert_password.as_deref())?;
            builder.with_client_auth_cert(certs, key).map_err(|e| {
                Error::input(format!(
                    "cannot use client certificate {}: {e}",
                    cc.cert.display(),
                ))
                .with_hint("the key must be the private key of that certificate")
            })?
        }
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// The handshake's signatures, checked with `self.provider`'s algorithms: the same in every
/// verifier here, which differ only in the certificates they trust.
macro_rules! signatures_checked_by_provider {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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
    };
}

/// `--insecure`: any certificate chain and name (signatures are still checked, so the
/// handshake is a real one).
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    signatures_checked_by_provider!();
}

/// Trust in a `--ca-cert` bundle: path validation to its certificates, or a server
/// certificate that is one of them (pinning).
#[derive(Debug)]
struct BundleVerifier {
    bundle: Vec<CertificateDer<'static>>,
    /// Path validation; `None` when no certificate of the bundle can be a trust anchor.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl BundleVerifier {
    fn new(bundle: Vec<CertificateDer<'static>>, provider: Arc<CryptoProvider>) -> BundleVerifier {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(bundle.iter().cloned());
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .ok();
        BundleVerifier {
            bundle,
            webpki,
            provider,
        }
    }
}

/// Trust before dates: when the inner verifier finds the certificate expired or not yet valid,
/// it is checked again as of a moment inside its validity period; a trust failure then (unknown
/// authority, bad signature, a CA certificate used as a server's) is the answer instead.
#[derive(Debug)]
struct TrustFirst {
    inner: Arc<dyn ServerCertVerifier>,
}

impl TrustFirst {
    /// The error of a second verification as of `within`, when it is about trust.
    fn trust_error(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
    ) -> Option<rustls::Error> {
        let within = moment_within_validity(end_entity)?;
        let again = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            within,
        );
        match again {
            Err(rustls::Error::InvalidCertificate(cert)) if !is_date_or_name_error(&cert) => {
                Some(rustls::Error::InvalidCertificate(cert))
            }
            _ => None,
        }
    }
}

fn is_date_error(cert: &CertificateError) -> bool {
    matches!(
        cert,
        CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. }
    )
}

fn is_date_or_name_error(cert: &CertificateError) -> bool {
    is_date_error(cert)
        || matches!(
            cert,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
}

/// The middle of the certificate's validity period.
fn moment_within_validity(cert: &CertificateDer<'_>) -> Option<UnixTime> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let validity = parsed.validity();
    let (from, until) = (
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    );
    let middle = from.checked_add(until.checked_sub(from)? / 2)?;
    Some(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(middle).ok()?,
    )))
}

impl ServerCertVerifier for TrustFirst {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(cert)) if is_date_error(&cert) => Err(self
                .trust_error(end_entity, intermediates, server_name, ocsp_response)
                .unwrap_or(rustls::Error::InvalidCertificate(cert))),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// A pinned certificate must be within its validity period.
fn check_validity(
    cert: &CertificateDer<'_>,
    now: UnixTime,
) -> std::result::Result<(), rustls::Error> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let validity = parsed.validity();
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    if now < validity.not_before.timestamp() {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet,
        ));
    }
    if now > validity.not_after.timestamp() {
        return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
    }
    Ok(())
}

impl ServerCertVerifier for BundleVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if self
            .bundle
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            check_validity(end_entity, now)?;
            verify_server_name(&ParsedCertificate::try_from(end_entity)?, server_name)?;
            return Ok(ServerCertVerified::assertion());
        }
        match &self.webpki {
            Some(webpki) => webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        }
    }

    signatures_checked_by_provider!();
}

const TEST_SERVER: &str = "or --insecure for a test server";

/// One sentence for a TLS failure with `host`, and what to do about it.
pub(crate) fn describe(tls: &rustls::Error, host: &str) -> Error {
    match tls {
        rustls::Error::InvalidCertificate(cert) => describe_certificate(cert, host),
        rustls::Error::AlertReceived(alert) => describe_alert(*alert, host),
        rustls::Error::InvalidMessage(_)
        | rustls::Error::InappropriateMessage { .. }
        | rustls::Error::InappropriateHandshakeMessage { .. } => {
            Error::tls(format!("{host} did not answer with TLS")).with_hint(
                "check the port (QSEoW: 443 for the proxy, 4242 for the repository), and whether the server expects http:// instead of https://",
            )
        }
        rustls::Error::PeerIncompatible(what) => Error::tls(format!(
            "{host} and qtool have no TLS version or cipher in common ({what:?})"
        ))
        .with_hint(
            "qtool speaks TLS 1.2 and 1.3 with current ciphers; enable TLS 1.2 on the server (Windows: the Schannel protocol settings)",
        ),
        rustls::Error::NoCertificatesPresented => {
            Error::tls(format!("{host} sent no TLS certificate")).with_hint(
                "the server's TLS binding has no certificate: set one on the QSEoW proxy or repository",
            )
        }
        rustls::Error::NoApplicationProtocol => Error::tls(format!(
            "{host} offers neither HTTP/1.1 nor HTTP/2 over TLS"
        ))
        .with_hint("check that the URL points at a web server"),
        rustls::Error::PeerMisbehaved(what) => Error::tls(format!(
            "{host} broke the TLS protocol during the handshake ({what:?})"
        ))
        .with_hint("a proxy or load balancer between here and the server may interfere; try another route, or report it to the server's admin"),
        rustls::Error::DecryptError | rustls::Error::PeerSentOversizedRecord => Error::tls(
            format!("the TLS connection to {host} was corrupted"),
        )
        .with_hint("retry; if it persists, a proxy between here and the server may be interfering"),
        rustls::Error::InvalidCertRevocationList(e) => {
            Error::tls(format!("a certificate revocation list for {host} is unusable: {e:?}"))
                .with_hint("check the revocation lists configured for the site")
        }
        other => Error::tls(format!("TLS handshake with {host} failed: {other}"))
            .with_hint("run with -vv to see the handshake, or --insecure to rule out certificate trust on a test server"),
    }
}

fn describe_certificate(cert: &CertificateError, host: &str) -> Error {
    let untrusted = |what: String, hint: &str| Error::tls(what).with_hint(hint.to_string());
    match cert {
        CertificateError::UnknownIssuer => untrusted(
            format!("the TLS certificate of {host} is not signed by a trusted authority"),
            &format!(
                "pass --ca-cert ROOT.pem (the server's root CA, or the server certificate itself), {TEST_SERVER}"
            ),
        ),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            let presented = match cert {
                CertificateError::NotValidForNameContext { presented, .. }
                    if !presented.is_empty() =>
                {
                    let names: Vec<&str> = presented.iter().map(|n| bare_name(n)).collect();
                    format!(" (it names {})", names.join(", "))
                }
                _ => String::new(),
            };
            untrusted(
                format!("the TLS certificate of {host} is not valid for that host name{presented}"),
                &format!("connect with a host name listed in the certificate, {TEST_SERVER}"),
            )
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => untrusted(
            format!("the TLS certificate of {host} has expired"),
            &format!("renew the server certificate (QMC: Certificates), {TEST_SERVER}"),
        ),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => untrusted(
            format!("the TLS certificate of {host} is not valid yet"),
            "check the clocks of this machine and the server",
        ),
        CertificateError::Revoked => untrusted(
            format!("the TLS certificate of {host} has been revoked"),
            "the server needs a new certificate; ask its admin",
        ),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            untrusted(
                format!(
                    "the TLS certificate of {host} is not meant for TLS servers (its extended key usage lacks server authentication)"
                ),
                "bind a certificate issued for server authentication to the proxy or repository",
            )
        }
        CertificateError::BadEncoding | CertificateError::UnhandledCriticalExtension => untrusted(
            format!(
                "the TLS certificate of {host} is malformed or uses an extension qtool cannot check"
            ),
            &format!("replace the server certificate, {TEST_SERVER}"),
        ),
        CertificateError::BadSignature => untrusted(
            format!("the TLS certificate of {host} has a signature that does not verify"),
            "the certificate is corrupt or not issued by the CA it names; replace it",
        ),
        #[allow(deprecated)]
        CertificateError::UnsupportedSignatureAlgorithm
        | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => untrusted(
            format!(
                "the TLS certificate of {host} is signed with an algorithm qtool does not accept (such as SHA-1)"
            ),
            "reissue the certificate with SHA-256 or better",
        ),
        CertificateError::UnknownRevocationStatus
        | CertificateError::ExpiredRevocationList
        | CertificateError::ExpiredRevocationListContext { .. }
        | CertificateError::InvalidOcspResponse => untrusted(
            format!("the revocation status of the TLS certificate of {host} cannot be checked"),
            "check the revocation lists or OCSP responder of the site's CA",
        ),
        CertificateError::Other(other) if is_ca_used_as_end_entity(other) => untrusted(
            format!(
                "the TLS certificate of {host} is a CA certificate (CA:TRUE) used as the server certificate, which qtool trusts only when pinned"
            ),
            &format!(
                "pass that exact certificate with --ca-cert (as `curl --cacert` trusts it), {TEST_SERVER}"
            ),
        ),
        other => untrusted(
            format!("the TLS certificate of {host} was rejected: {other}"),
            &format!("pass --ca-cert ROOT.pem, {TEST_SERVER}"),
        ),
    }
}

/// `localhost` of webpki's `DnsName("localhost")`, `127.0.0.1` of `IpAddress(127.0.0.1)`.
fn bare_name(presented: &str) -> &str {
    presented
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .map_or(presented, |inner| inner.trim_matches('"'))
}

/// webpki's `CaUsedAsEndEntity`, behind rustls's opaque `OtherError`.
fn is_ca_used_as_end_entity(e: &rustls::OtherError) -> bool {
    matches!(
        e.0.downcast_ref::<webpki::Error>(),
        Some(webpki::Error::CaUsedAsEndEntity)
    )
}

/// Alerts whose names can reach us only as text: after the handshake, tokio-rustls reports a
/// received alert as an I/O error carrying rustls's message (`received fatal alert: <name>`).
const ALERTS_BY_NAME: &[AlertDescription] = &[
    AlertDescription::CertificateRequired,
    AlertDescription::BadCertificate,
    AlertDescription::UnknownCA,
    AlertDescription::CertificateUnknown,
    AlertDescription::AccessDenied,
    AlertDescription::UnsupportedCertificate,
    AlertDescription::CertificateExpired,
    AlertDescription::CertificateRevoked,
    AlertDescription::HandshakeFailure,
    AlertDescription::ProtocolVersion,
    AlertDescription::InsufficientSecurity,
    AlertDescription::UnrecognisedName,
];

/// A TLS alert told as text (see [`ALERTS_BY_NAME`]), described like one seen as an error.
pub(crate) fn describe_alert_text(text: &str, host: &str) -> Option<Error> {
    let name = text.trim().strip_prefix("received fatal alert: ")?;
    ALERTS_BY_NAME
        .iter()
        .find(|a| format!("{a:?}") == name)
        .map(|a| describe_alert(*a, host))
}

fn describe_alert(alert: AlertDescription, host: &str) -> Error {
    use AlertDescription as A;
    match alert {
        A::CertificateRequired
        | A::BadCertificate
        | A::UnknownCA
        | A::CertificateUnknown
        | A::AccessDenied
        | A::UnsupportedCertificate => Error::tls(format!(
            "{host} rejected our client certificate (or requires one)"
        ))
        .with_hint(
            "use the client.pem/client_key.pem exported from this site's QMC (context --client-cert/--client-key)",
        ),
        A::CertificateExpired => Error::tls(format!("{host} refused our client certificate: it has expired"))
            .with_hint("export a new client certificate from the QMC"),
        A::CertificateRevoked => Error::tls(format!("{host} refused our client certificate: it has been revoked"))
            .with_hint("export a new client certificate from the QMC"),
        A::HandshakeFailure | A::ProtocolVersion | A::InsufficientSecurity => Error::tls(format!(
            "{host} refused the TLS handshake (no TLS version or cipher in common)"
        ))
        .with_hint(
            "qtool speaks TLS 1.2 and 1.3 with current ciphers; enable TLS 1.2 on the server (Windows: the Schannel protocol settings)",
        ),
        A::UnrecognisedName => Error::tls(format!("{host} does not serve that host name over TLS"))
            .with_hint("use the host name the server's certificate and binding are set up for"),
        other => Error::tls(format!("{host} ended the TLS handshake with the alert {other:?}"))
            .with_hint("run with -vv to see the handshake; check the server's TLS settings"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentence(e: rustls::Error) -> String {
        let err = describe(&e, "qlik.example.com:443");
        assert_eq!(err.class().exit_code(), 9, "{err:?}");
        err.to_string()
    }

    #[test]
    fn every_tls_failure_is_a_sentence_with_a_hint() {
        use rustls::{InvalidMessage, PeerIncompatible, PeerMisbehaved};
        let cases = [
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
            rustls::Error::InvalidCertificate(CertificateError::NotValidForName),
            rustls::Error::InvalidCertificate(CertificateError::Expired),
            rustls::Error::InvalidCertificate(CertificateError::NotValidYet),
            rustls::Error::InvalidCertificate(CertificateError::Revoked),
            rustls::Error::InvalidCertificate(CertificateError::InvalidPurpose),
            rustls::Error::InvalidCertificate(CertificateError::BadEncoding),
            rustls::Error::InvalidCertificate(CertificateError::BadSignature),
            rustls::Error::InvalidCertificate(CertificateError::UnknownRevocationStatus),
            rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
                Arc::new(webpki::Error::CaUsedAsEndEntity),
            ))),
            rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
            rustls::Error::AlertReceived(AlertDescription::CertificateExpired),
            rustls::Error::AlertReceived(AlertDescription::HandshakeFailure),
            rustls::Error::AlertReceived(AlertDescription::UnrecognisedName),
            rustls::Error::AlertReceived(AlertDescription::InternalError),
            rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType),
            rustls::Error::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon),
            rustls::Error::PeerMisbehaved(PeerMisbehaved::IllegalMiddleboxChangeCipherSpec),
            rustls::Error::NoCertificatesPresented,
            rustls::Error::NoApplicationProtocol,
            rustls::Error::DecryptError,
            rustls::Error::General("boom".into()),
        ];
        for case in cases {
            let debug = format!("{case:?}");
            let text = sentence(case);
            assert!(text.contains("qlik.example.com:443"), "{text}");
            assert!(text.contains("; "), "no hint: {text}");
            assert!(!text.contains("OtherError"), "{debug}: {text}");
        }
        let client = describe_alert_text(
            "received fatal alert: CertificateRequired",
            "qlik.example.com:4242",
        )
        .unwrap()
        .to_string();
        assert!(client.contains("client certificate"), "{client}");
        assert!(describe_alert_text("received fatal alert: Nonsense", "h").is_none());
        assert_eq!(bare_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(bare_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        let ca = sentence(rustls::Error::InvalidCertificate(CertificateError::Other(
            rustls::OtherError(Arc::new(webpki::Error::CaUsedAsEndEntity)),
        )));
        assert!(ca.contains("CA:TRUE") && ca.contains("--ca-cert"), "{ca}");
    }
}
