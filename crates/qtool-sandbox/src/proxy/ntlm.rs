//! The NTLM acceptor of the Windows authentication module: NEGOTIATE → CHALLENGE on one
//! connection, then the AUTHENTICATE message is verified against the sandbox's directory users.
//!
//! The protocol (message parsing, NTLMv2 and MIC computation, channel-binding hash) is Devolutions'
//! `sspi` crate. Its acceptor has gaps a real domain controller does not have (upstream issue
//! Devolutions/sspi-rs#172), which this module closes before and around it:
//! - it proves the password only through the MIC, and skips the MIC when the client clears the
//!   MIC bit of `MsvAvFlags`: an AUTHENTICATE without that bit is refused here ([`inspect`]);
//! - it accepts any candidate whose password matches, whatever user the message names: it is
//!   given only the one user the message names;
//! - it never *requires* a channel binding: with `require_channel_binding` (a hardened site,
//!   Extended Protection "Required") a response without one is refused here.
//!
//! NTLMv1 and anonymous responses are refused: Windows servers have refused NTLMv1 by default
//! since Windows Vista ("Send NTLMv2 response only"). Accounts lock after
//! [`LOCKOUT_THRESHOLD`] wrong passwords in a row for [`LOCKOUT_DURATION`] (Windows 11 defaults).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sspi::{
    AuthIdentity, AuthIdentityBuffers, BufferType, DataRepresentation, Ntlm, SecurityBuffer,
    SecurityStatus, ServerRequestFlags, Sspi, SspiEx, SspiImpl, Username, UsernameParts,
};

use super::DirectoryUser;
use crate::identity::Identity;

/// Wrong passwords in a row that lock an account.
pub const LOCKOUT_THRESHOLD: u32 = 10;
/// How long a locked account stays locked.
pub const LOCKOUT_DURATION: Duration = Duration::from_secs(10 * 60);
/// How long a challenge waits for its AUTHENTICATE message.
const CHALLENGE_TTL: Duration = Duration::from_secs(60);
/// The text of Windows' `ERROR_ACCOUNT_LOCKED_OUT` (1909), which the module sends in its 401.
pub const LOCKED_OUT_TEXT: &str =
    "The referenced account is currently locked out and may not be logged on to.";

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
const NEGOTIATE_TARGET_INFO: u32 = 0x0080_0000;
const AV_EOL: u16 = 0;
const AV_FLAGS: u16 = 6;
const AV_CHANNEL_BINDINGS: u16 = 10;
const AV_FLAG_MIC_PRESENT: u32 = 0x2;
/// NTProofStr (16) + blob header up to the AV pairs (28): the smallest NTLMv2 response.
const NTLMV2_MIN_LEN: usize = 16 + 28;

/// Why an NTLM message was not accepted (the text of the module's 401 answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not an NTLMSSP message: a SPNEGO/Kerberos token, or garbage.
    NotNtlm,
    Malformed(String),
    /// An AUTHENTICATE on a connection that has no challenge waiting.
    NoChallenge,
    NtlmV1,
    Anonymous,
    NoMic,
    NoChannelBinding,
    WrongChannelBinding,
    UnknownUser(String),
    WrongPassword(String),
    Locked(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotNtlm => f.write_str(
                "the authentication token is not an NTLM message (this module accepts NTLM, \
                 alone or under Negotiate; Kerberos needs a domain controller)",
            ),
            Refusal::Malformed(why) => write!(f, "malformed NTLM message: {why}"),
            Refusal::NoChallenge => f.write_str(
                "no NTLM challenge is waiting on this connection (NTLM needs the NEGOTIATE and \
                 AUTHENTICATE messages on one keep-alive connection)",
            ),
            Refusal::NtlmV1 => f.write_str("NTLMv1 responses are refused; use NTLMv2"),
            Refusal::Anonymous => f.write_str("anonymous NTLM logons are refused"),
            Refusal::NoMic => {
                f.write_str("the NTLM AUTHENTICATE message has no message integrity code (MIC)")
            }
            Refusal::NoChannelBinding => f.write_str(
                "this site requires the TLS channel binding (Extended Protection) and the \
                 NTLM response has none",
            ),
            Refusal::WrongChannelBinding => f.write_str(
                "the NTLM response is bound to another TLS channel (a proxy in between?)",
            ),
            Refusal::UnknownUser(user) | Refusal::WrongPassword(user) => {
                write!(
                    f,
                    "Logon failed for {user}: unknown user name or bad password."
                )
            }
            Refusal::Locked(_) => f.write_str(LOCKED_OUT_TEXT),
        }
    }
}

/// What the acceptor decided on one message.
pub enum Step {
    /// Answer with this CHALLENGE and wait for the AUTHENTICATE on the same connection.
    Challenge(Vec<u8>),
    Authenticated(Identity),
    Refused(Refusal),
}

/// The handshake in progress on one connection: the context that issued the challenge.
pub struct PendingChallenge {
    context: Ntlm,
    issued: Instant,
}

#[derive(Debug, Default, Clone, Copy)]
struct FailedLogons {
    count: u32,
    locked_until: Option<Instant>,
}

pub struct NtlmAcceptor {
    users: Vec<DirectoryUser>,
    /// RFC 5929 `tls-server-end-point` application data of the server certificate.
    channel_binding: Vec<u8>,
    require_channel_binding: bool,
    failures: Mutex<HashMap<String, FailedLogons>>,
}

impl NtlmAcceptor {
    pub fn new(
        users: Vec<DirectoryUser>,
        server_cert_der: &[u8],
        require_channel_binding: bool,
    ) -> NtlmAcceptor {
        NtlmAcceptor {
            users,
            channel_binding: tls_server_end_point(server_cert_der),
            require_channel_binding,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Take one NTLM message. `pending` is the connection's handshake state: a NEGOTIATE
    /// leaves a challenge there, an AUTHENTICATE consumes it.
    pub fn step(&self, pending: &mut Option<PendingChallenge>, token: &[u8]) -> Step {
        let message_type = match message_type(token) {
            Ok(t) => t,
            Err(refusal) => return Step::Refused(refusal),
        };
        match message_type {
            1 => {
                *pending = None;
                self.challenge(token, pending)
            }
            3 => match pending.take() {
                Some(p) if p.issued.elapsed() <= CHALLENGE_TTL => {
                    self.authenticate(p.context, token)
                }
                _ => Step::Refused(Refusal::NoChallenge),
            },
            other => Step::Refused(Refusal::Malformed(format!(
                "unexpected message type {other}"
            ))),
        }
    }

    fn challenge(&self, negotiate: &[u8], pending: &mut Option<PendingChallenge>) -> Step {
        let mut context = Ntlm::new();
        context.set_channel_bindings(&self.channel_binding);
        let mut credentials: Option<AuthIdentityBuffers> = None;
        let mut input = [SecurityBuffer::new(negotiate.to_vec(), BufferType::Token)];
        let mut output = [SecurityBuffer::new(Vec::new(), BufferType::Token)];
        let builder = context
            .accept_security_context()
            .with_credentials_handle(&mut credentials)
            .with_context_requirements(ServerRequestFlags::ALLOCATE_MEMORY)
            .with_target_data_representation(DataRepresentation::Native)
            .with_input(&mut input)
            .with_output(&mut output);
        let result = context
            .accept_security_context_impl(builder)
            .and_then(|mut generator| generator.resolve_to_result());
        match result {
            Ok(r) if r.status == SecurityStatus::ContinueNeeded => {
                let [out] = output;
                *pending = Some(PendingChallenge {
                    context,
                    issued: Instant::now(),
                });
                Step::Challenge(out.buffer)
            }
            Ok(r) => Step::Refused(Refusal::Malformed(format!(
                "NEGOTIATE answered with {:?}",
                r.status
            ))),
            Err(e) => Step::Refused(Refusal::Malformed(e.description)),
        }
    }

    fn authenticate(&self, mut context: Ntlm, message: &[u8]) -> Step {
        if let Err(refusal) = inspect(message, self.require_channel_binding) {
            return Step::Refused(refusal);
        }
        let mut credentials: Option<AuthIdentityBuffers> = None;
        let mut input = [SecurityBuffer::new(message.to_vec(), BufferType::Token)];
        let mut output = [SecurityBuffer::new(Vec::new(), BufferType::Token)];
        let builder = context
            .accept_security_context()
            .with_credentials_handle(&mut credentials)
            .with_context_requirements(ServerRequestFlags::ALLOCATE_MEMORY)
            .with_target_data_representation(DataRepresentation::Native)
            .with_input(&mut input)
            .with_output(&mut output);
        match context
            .accept_security_context_impl(builder)
            .and_then(|mut generator| generator.resolve_to_result())
        {
            Ok(r) if r.status == SecurityStatus::CompleteNeeded => {}
            Ok(r) => {
                return Step::Refused(Refusal::Malformed(format!(
                    "AUTHENTICATE answered with {:?}",
                    r.status
                )));
            }
            Err(e) if e.error_type == sspi::ErrorKind::BadBindings => {
                return Step::Refused(Refusal::WrongChannelBinding);
            }
            Err(e) => return Step::Refused(Refusal::Malformed(e.description)),
        }
        let wire = match context.query_context_names() {
            Ok(names) => names.username,
            Err(e) => return Step::Refused(Refusal::Malformed(e.description)),
        };
        let shown = match wire.parts() {
            UsernameParts::DownLevelLogonName(p) => match p.netbios_domain() {
                Some(domain) => format!("{domain}\\{}", p.account_name()),
                None => p.account_name().to_string(),
            },
            UsernameParts::UserPrincipalName(p) => p.upn().to_string(),
        };
        let Some(user) = self.find_user(&wire) else {
            return Step::Refused(Refusal::UnknownUser(shown));
        };
        let key = user.identity.display_name().to_ascii_lowercase();
        if self.is_locked(&key) {
            return Step::Refused(Refusal::Locked(shown));
        }
        // Only the named user is a candidate (see the module docs).
        let candidate = AuthIdentity {
            username: wire.clone(),
            password: user.password.clone().into(),
        };
        let verified = context
            .custom_set_auth_identity(candidate)
            .and_then(|()| context.complete_auth_token(&mut []));
        match verified {
            Ok(SecurityStatus::Ok) => {
                self.record(&key, true);
                Step::Authenticated(user.identity.clone())
            }
            _ => {
                self.record(&key, false);
                if self.is_locked(&key) {
                    Step::Refused(Refusal::Locked(shown))
                } else {
                    Step::Refused(Refusal::WrongPassword(shown))
                }
            }
        }
    }

    /// The directory user the message names: the domain and account compared without case; an
    /// empty domain means the sandbox's own (as a Windows server reads it).
    /// (`user@suffix` names are not resolved: the sandbox has no UPN suffixes).
    fn find_user(&self, wire: &Username) -> Option<&DirectoryUser> {
        let UsernameParts::DownLevelLogonName(name) = wire.parts() else {
            return None;
        };
        let domain = name.netbios_domain().filter(|d| !d.is_empty());
        self.users.iter().find(|u| {
            u.identity.user_id.eq_ignore_ascii_case(name.account_name())
                && domain.is_none_or(|d| u.identity.user_directory.eq_ignore_ascii_case(d))
        })
    }

    fn is_locked(&self, key: &str) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures
            .get(key)
            .and_then(|f| f.locked_until)
            .is_some_and(|until| Instant::now() < until)
    }

    fn record(&self, key: &str, success: bool) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if success {
            failures.remove(key);
            return;
        }
        let entry = failures.entry(key.to_string()).or_default();
        if entry
            .locked_until
            .is_some_and(|until| Instant::now() >= until)
        {
            *entry = FailedLogons::default();
        }
        entry.count += 1;
        if entry.count >= LOCKOUT_THRESHOLD && entry.locked_until.is_none() {
            entry.locked_until = Some(Instant::now() + LOCKOUT_DURATION);
        }
    }
}

/// The NTLMSSP message type of a token (1, 2 or 3).
fn message_type(token: &[u8]) -> Result<u32, Refusal> {
    if token.len() < 12 || &token[..8] != SIGNATURE {
        return Err(Refusal::NotNtlm);
    }
    Ok(read_u32(token, 8).unwrap_or(0))
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    bytes
        .get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A payload field of an AUTHENTICATE message (length, max length, offset at `at`).
fn field(message: &[u8], at: usize) -> Result<&[u8], Refusal> {
    let len = usize::from(read_u16(message, at).ok_or_else(truncated)?);
    let offset = read_u32(message, at + 4).ok_or_else(truncated)? as usize;
    message
        .get(offset..offset.saturating_add(len))
        .ok_or_else(truncated)
}

fn truncated() -> Refusal {
    Refusal::Malformed("truncated AUTHENTICATE message".into())
}

/// What sspi does not check in an AUTHENTICATE message (MS-NLMP 2.2.1.3, 2.2.2.1, 2.2.2.7):
/// an NTLMv2 response whose `MsvAvFlags` says a MIC is present (and the MIC field the flag
/// points to), and, when required, a non-zero channel binding.
pub fn inspect(message: &[u8], require_channel_binding: bool) -> Result<(), Refusal> {
    let nt_response = field(message, 20)?;
    let user = field(message, 36)?;
    if nt_response.is_empty() && user.is_empty() {
        return Err(Refusal::Anonymous);
    }
    if nt_response.len() < NTLMV2_MIN_LEN {
        return Err(Refusal::NtlmV1);
    }
    let flags = read_u32(message, 60).ok_or_else(truncated)?;
    let mut mic_flag = false;
    let mut binding: Option<&[u8]> = None;
    let mut pairs = &nt_response[NTLMV2_MIN_LEN..];
    loop {
        let id = read_u16(pairs, 0).ok_or_else(truncated)?;
        let len = usize::from(read_u16(pairs, 2).ok_or_else(truncated)?);
        let value = pairs.get(4..4 + len).ok_or_else(truncated)?;
        match id {
            AV_EOL => break,
            AV_FLAGS => {
                mic_flag = read_u32(value, 0).is_some_and(|f| f & AV_FLAG_MIC_PRESENT != 0);
            }
            AV_CHANNEL_BINDINGS => binding = Some(value),
            _ => {}
        }
        pairs = &pairs[4 + len..];
    }
    // sspi reads the MIC only when the message negotiates TARGET_INFO (the field is then there).
    if !mic_flag || flags & NEGOTIATE_TARGET_INFO == 0 || message.len() < 88 {
        return Err(Refusal::NoMic);
    }
    if require_channel_binding && binding.is_none_or(|b| b.iter().all(|x| *x == 0)) {
        return Err(Refusal::NoChannelBinding);
    }
    Ok(())
}

/// RFC 5929 §4.1 `tls-server-end-point` application data: `"tls-server-end-point:"` and the
/// certificate hashed with the hash of its signature algorithm (SHA-256 for MD5, SHA-1 and
/// algorithms without one).
pub fn tls_server_end_point(cert_der: &[u8]) -> Vec<u8> {
    use aws_lc_rs::digest;
    let algorithm = x509_parser::parse_x509_certificate(cert_der)
        .ok()
        .map(|(_, cert)| cert.signature_algorithm.algorithm.to_id_string());
    let hash = match algorithm.as_deref() {
        // sha384WithRSAEncryption, ecdsa-with-SHA384
        Some("1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3") => &digest::SHA384,
        // sha512WithRSAEncryption, ecdsa-with-SHA512
        Some("1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4") => &digest::SHA512,
        _ => &digest::SHA256,
    };
    let mut data = b"tls-server-end-point:".to_vec();
    data.extend_from_slice(digest::digest(hash, cert_der).as_ref());
    data
}

/// An sspi initiator driven by hand, for the tests of the acceptor and the module.
#[cfg(test)]
pub(crate) mod test_client {
    use super::*;
    use sspi::{ClientRequestFlags, CredentialUse};

    /// An sspi initiator, driven by hand.
    pub(crate) struct Client {
        context: Ntlm,
        credentials: Option<AuthIdentityBuffers>,
    }

    impl Client {
        pub(crate) fn new(
            user: &str,
            domain: &str,
            password: &str,
            binding: Option<&[u8]>,
        ) -> Client {
            let mut context = Ntlm::new();
            if let Some(cert) = binding {
                context.set_channel_bindings(&tls_server_end_point(cert));
            }
            let identity = AuthIdentity {
                username: Username::new(user, Some(domain)).unwrap(),
                password: password.to_string().into(),
            };
            let credentials = context
                .acquire_credentials_handle()
                .with_credential_use(CredentialUse::Outbound)
                .with_auth_data(&identity)
                .execute(&mut context)
                .unwrap()
                .credentials_handle;
            Client {
                context,
                credentials,
            }
        }

        pub(crate) fn step(&mut self, challenge: Option<Vec<u8>>) -> Vec<u8> {
            let mut output = [SecurityBuffer::new(Vec::new(), BufferType::Token)];
            let mut input: Vec<SecurityBuffer> = challenge
                .into_iter()
                .map(|c| SecurityBuffer::new(c, BufferType::Token))
                .collect();
            let mut builder = self
                .context
                .initialize_security_context()
                .with_credentials_handle(&mut self.credentials)
                .with_context_requirements(ClientRequestFlags::ALLOCATE_MEMORY)
                .with_target_data_representation(DataRepresentation::Native)
                .with_target_name("HTTP/localhost")
                .with_output(&mut output);
            if !input.is_empty() {
                builder = builder.with_input(&mut input);
            }
            self.context
                .initialize_security_context_impl(&mut builder)
                .unwrap()
                .resolve_to_result()
                .unwrap();
            let [out] = output;
            out.buffer
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_client::Client;
    use super::*;

    const CERT: &[u8] = b"not a certificate, but bytes to bind to";

    fn acceptor(require_channel_binding: bool) -> NtlmAcceptor {
        let users = [("alice", "Secret-1"), ("bob", "Other-2")]
            .map(|(id, password)| DirectoryUser {
                identity: Identity::new("SANDBOX", id),
                password: password.into(),
            })
            .to_vec();
        NtlmAcceptor::new(users, CERT, require_channel_binding)
    }

    /// Run a whole handshake; `tamper` may change the AUTHENTICATE message first.
    fn login(
        acceptor: &NtlmAcceptor,
        mut client: Client,
        tamper: impl FnOnce(&mut Vec<u8>),
    ) -> Result<Identity, Refusal> {
        let mut pending = None;
        let negotiate = client.step(None);
        let Step::Challenge(challenge) = acceptor.step(&mut pending, &negotiate) else {
            panic!("no challenge");
        };
        let mut authenticate = client.step(Some(challenge));
        tamper(&mut authenticate);
        match acceptor.step(&mut pending, &authenticate) {
            Step::Authenticated(identity) => Ok(identity),
            Step::Refused(refusal) => Err(refusal),
            Step::Challenge(_) => panic!("a second challenge"),
        }
    }

    fn ok(domain: &str, user: &str, password: &str, binding: Option<&[u8]>) -> Client {
        Client::new(user, domain, password, binding)
    }

    /// A whole handshake without a channel binding, untouched.
    fn plain(
        a: &NtlmAcceptor,
        domain: &str,
        user: &str,
        password: &str,
    ) -> Result<Identity, Refusal> {
        login(a, ok(domain, user, password, None), |_| {})
    }

    #[test]
    fn verifies_the_named_user_and_only_that_user() {
        let a = acceptor(false);
        let who = login(&a, ok("sandbox", "ALICE", "Secret-1", Some(CERT)), |_| {}).unwrap();
        assert_eq!(who.display_name(), "SANDBOX\\alice");
        assert!(plain(&a, "SANDBOX", "alice", "Secret-1").is_ok());
        assert_eq!(
            plain(&a, "SANDBOX", "alice", "nope"),
            Err(Refusal::WrongPassword("SANDBOX\\alice".into()))
        );
        // sspi alone would let alice in with bob's password.
        assert!(matches!(
            plain(&a, "SANDBOX", "alice", "Other-2"),
            Err(Refusal::WrongPassword(_))
        ));
        assert!(matches!(
            plain(&a, "SANDBOX", "mallory", "Secret-1"),
            Err(Refusal::UnknownUser(_))
        ));
        assert!(matches!(
            plain(&a, "OTHER", "alice", "Secret-1"),
            Err(Refusal::UnknownUser(_))
        ));
    }

    #[test]
    fn a_cleared_mic_flag_is_refused_instead_of_skipping_the_password_check() {
        let a = acceptor(false);
        let strip = |m: &mut Vec<u8>| {
            // MsvAvFlags (id 6, length 4) with the MIC bit.
            let at = m
                .windows(8)
                .position(|w| w == [6, 0, 4, 0, 2, 0, 0, 0])
                .expect("MsvAvFlags");
            m[at + 4] = 0;
        };
        assert_eq!(
            login(&a, ok("SANDBOX", "alice", "wrong", None), strip),
            Err(Refusal::NoMic)
        );
    }

    #[test]
    fn channel_bindings_are_checked_and_required_when_hardened() {
        let a = acceptor(false);
        assert_eq!(
            login(
                &a,
                ok("SANDBOX", "alice", "Secret-1", Some(b"other")),
                |_| {}
            ),
            Err(Refusal::WrongChannelBinding)
        );
        let hardened = acceptor(true);
        assert_eq!(
            login(&hardened, ok("SANDBOX", "alice", "Secret-1", None), |_| {}),
            Err(Refusal::NoChannelBinding)
        );
        assert!(
            login(
                &hardened,
                ok("SANDBOX", "alice", "Secret-1", Some(CERT)),
                |_| {}
            )
            .is_ok()
        );
    }

    #[test]
    fn accounts_lock_after_the_threshold_even_for_the_right_password() {
        let a = acceptor(false);
        for _ in 0..LOCKOUT_THRESHOLD - 1 {
            assert!(matches!(
                plain(&a, "SANDBOX", "bob", "bad"),
                Err(Refusal::WrongPassword(_))
            ));
        }
        assert!(matches!(
            plain(&a, "SANDBOX", "bob", "bad"),
            Err(Refusal::Locked(_))
        ));
        assert!(matches!(
            plain(&a, "SANDBOX", "bob", "Other-2"),
            Err(Refusal::Locked(_))
        ));
        // Other accounts are not affected.
        assert!(plain(&a, "SANDBOX", "alice", "Secret-1").is_ok());
        assert!(
            Refusal::Locked("x".into())
                .to_string()
                .contains("locked out")
        );
    }

    #[test]
    fn messages_out_of_order_or_not_ntlm_are_refused() {
        let a = acceptor(false);
        let mut pending = None;
        assert!(matches!(
            a.step(&mut pending, b"\x60\x82\x01\x00spnego"),
            Step::Refused(Refusal::NotNtlm)
        ));
        let mut client = ok("SANDBOX", "alice", "Secret-1", None);
        let negotiate = client.step(None);
        let Step::Challenge(challenge) = a.step(&mut pending, &negotiate) else {
            panic!()
        };
        let authenticate = client.step(Some(challenge));
        // The same AUTHENTICATE on a connection without a challenge (another connection).
        let mut other_connection = None;
        assert!(matches!(
            a.step(&mut other_connection, &authenticate),
            Step::Refused(Refusal::NoChallenge)
        ));
        // A truncated one.
        let mut cut = authenticate.clone();
        cut.truncate(70);
        assert!(matches!(
            a.step(&mut pending, &cut),
            Step::Refused(Refusal::Malformed(_))
        ));
        // An NTLMv1-sized response (24 bytes).
        let mut v1 = authenticate;
        v1[20] = 24;
        assert_eq!(inspect(&v1, false), Err(Refusal::NtlmV1));
    }
}
