//! The NTLM initiator: Devolutions' `sspi` builds the NEGOTIATE and AUTHENTICATE messages
//! (NTLMv2 only, with a MIC), and this module adds the TLS channel binding of RFC 5929.

use sspi::{
    AuthIdentity, AuthIdentityBuffers, BufferType, ClientRequestFlags, CredentialUse,
    DataRepresentation, Ntlm, SecurityBuffer, Sspi, SspiImpl, Username,
};

use crate::error::{Error, Result};

/// The NTLMSSP signature every message starts with.
const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// One login's NTLM context.
pub(crate) struct Initiator {
    context: Ntlm,
    credentials: Option<AuthIdentityBuffers>,
    target: String,
}

impl Initiator {
    /// `user` is `DOMAIN\user` (or `user@domain`); `host` names the HTTP service.
    pub(crate) fn new(user: &str, password: &str, host: &str) -> Result<Initiator> {
        let username = Username::parse(user).map_err(|e| {
            Error::config(format!("`{user}` is not a Windows user name: {e}")).with_hint(
                "give the user as DOMAIN\\user: `qtool context update NAME --user 'DOMAIN\\user'`",
            )
        })?;
        let identity = AuthIdentity {
            username,
            password: password.to_string().into(),
        };
        let mut context = Ntlm::new();
        let credentials = context
            .acquire_credentials_handle()
            .with_credential_use(CredentialUse::Outbound)
            .with_auth_data(&identity)
            .execute(&mut context)
            .map_err(|e| protocol_error(&e))?
            .credentials_handle;
        Ok(Initiator {
            context,
            credentials,
            target: format!("HTTP/{host}"),
        })
    }

    /// The NEGOTIATE message.
    pub(crate) fn negotiate(&mut self) -> Result<Vec<u8>> {
        self.step(None)
    }

    /// The AUTHENTICATE message answering `challenge`, bound to the server certificate when
    /// there is one.
    pub(crate) fn authenticate(
        &mut self,
        challenge: &[u8],
        server_cert: Option<&[u8]>,
    ) -> Result<Vec<u8>> {
        if let Some(cert) = server_cert {
            self.context
                .set_channel_bindings(&tls_server_end_point(cert));
        }
        self.step(Some(challenge.to_vec()))
    }

    fn step(&mut self, challenge: Option<Vec<u8>>) -> Result<Vec<u8>> {
        let mut output = [SecurityBuffer::new(Vec::new(), BufferType::Token)];
        let mut input: Vec<SecurityBuffer> = challenge
            .into_iter()
            .map(|c| SecurityBuffer::new(c, BufferType::Token))
            .collect();
        // No signing or sealing: the channel is TLS.
        let mut builder = self
            .context
            .initialize_security_context()
            .with_credentials_handle(&mut self.credentials)
            .with_context_requirements(ClientRequestFlags::ALLOCATE_MEMORY)
            .with_target_data_representation(DataRepresentation::Native)
            .with_target_name(&self.target)
            .with_output(&mut output);
        if !input.is_empty() {
            builder = builder.with_input(&mut input);
        }
        self.context
            .initialize_security_context_impl(&mut builder)
            .and_then(|mut generator| generator.resolve_to_result())
            .map_err(|e| protocol_error(&e))?;
        let [out] = output;
        Ok(out.buffer)
    }
}

fn protocol_error(e: &sspi::Error) -> Error {
    Error::auth(format!("the NTLM exchange failed: {}", e.description)).with_hint(
        "the server's NTLM messages were not understood; run with -vv to see the exchange",
    )
}

/// The NTLMSSP message type of a token (1 NEGOTIATE, 2 CHALLENGE, 3 AUTHENTICATE).
pub(crate) fn message_type(token: &[u8]) -> Option<u32> {
    let head = token.get(..12)?;
    (&head[..8] == SIGNATURE).then(|| u32::from_le_bytes([head[8], head[9], head[10], head[11]]))
}

/// RFC 5929 §4.1 `tls-server-end-point` application data: `"tls-server-end-point:"` and the
/// server certificate hashed with the hash of its signature algorithm, SHA-256 when that is
/// MD5 or SHA-1 or when the algorithm has no hash of its own (Ed25519, as requests-ntlm does).
pub(crate) fn tls_server_end_point(cert_der: &[u8]) -> Vec<u8> {
    use aws_lc_rs::digest;
    let hash = x509_parser::parse_x509_certificate(cert_der)
        .ok()
        .and_then(|(_, cert)| signature_hash_oid(&cert.signature_algorithm));
    let algorithm = match hash.as_deref() {
        Some("2.16.840.1.101.3.4.2.2") => &digest::SHA384,
        Some("2.16.840.1.101.3.4.2.3") => &digest::SHA512,
        _ => &digest::SHA256,
    };
    let mut data = b"tls-server-end-point:".to_vec();
    data.extend_from_slice(digest::digest(algorithm, cert_der).as_ref());
    data
}

/// The OID of the hash a certificate's signature algorithm uses, when it names one.
fn signature_hash_oid(algorithm: &x509_parser::x509::AlgorithmIdentifier<'_>) -> Option<String> {
    use x509_parser::signature_algorithm::SignatureAlgorithm;
    if let Ok(SignatureAlgorithm::RSASSA_PSS(params)) = SignatureAlgorithm::try_from(algorithm) {
        return Some(params.hash_algorithm_oid().to_id_string());
    }
    let hash = match algorithm.algorithm.to_id_string().as_str() {
        // sha256/384/512WithRSAEncryption, ecdsa-with-SHA256/384/512
        "1.2.840.113549.1.1.11" | "1.2.840.10045.4.3.2" => "2.16.840.1.101.3.4.2.1",
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => "2.16.840.1.101.3.4.2.2",
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => "2.16.840.1.101.3.4.2.3",
        _ => return None,
    };
    Some(hash.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(alg: &'static rcgen::SignatureAlgorithm) -> Vec<u8> {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn channel_binding_hashes_follow_the_signature_algorithm() {
        let p256 = certificate(&rcgen::PKCS_ECDSA_P256_SHA256);
        let p384 = certificate(&rcgen::PKCS_ECDSA_P384_SHA384);
        let prefix = b"tls-server-end-point:".len();
        assert_eq!(tls_server_end_point(&p256).len(), prefix + 32);
        assert_eq!(tls_server_end_point(&p384).len(), prefix + 48);
        // Not a certificate: SHA-256 of the bytes.
        assert_eq!(tls_server_end_point(b"junk").len(), prefix + 32);
    }

    #[test]
    fn messages_are_ntlmv2_with_the_right_types() {
        let mut client = Initiator::new("SANDBOX\\svc", "pw", "localhost").unwrap();
        let negotiate = client.negotiate().unwrap();
        assert_eq!(message_type(&negotiate), Some(1));
        assert_eq!(message_type(b"NTLMSSP\0"), None);
        assert_eq!(message_type(b"\x60\x82garbage-spnego"), None);
        // A server that answers garbage is an error, not a panic.
        assert!(client.authenticate(b"NTLMSSP\0\x02\0\0\0", None).is_err());
    }
}
