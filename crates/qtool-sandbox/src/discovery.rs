//! The discovery document `<state>/sandbox.json`: where the listeners are and where the
//! credentials live. Written atomically once every listener is bound (test fixtures poll for
//! it) and printed on stdout. It names files, never secrets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::pki::PkiPaths;
use crate::error::Result;
use qtool_common::fs::{self as files, Sensitivity};

pub const FILE_NAME: &str = "sandbox.json";
pub const JWT_AUDIENCE: &str = "qtool-sandbox";
pub const JWT_USERID: &str = "admin";
pub const JWT_USERDIRECTORY: &str = "SANDBOX";
pub const JWT_COOKIE: &str = "X-Qlik-Session-jwt";
pub const FORMS_COOKIE: &str = "X-Qlik-Session-form";
/// Session cookie of the default virtual proxy (QSEoW's default name).
pub const DEFAULT_COOKIE: &str = "X-Qlik-Session";
/// The default virtual proxy's "Windows authentication pattern" as QSEoW installs it.
pub const WINDOWS_PATTERN: &str = "Windows";
/// The forms proxy's pattern: no user agent contains it, so every client gets the login page.
pub const FORMS_ONLY_PATTERN: &str = "qtool-sandbox-forms-only";
pub const FORMS_USER: &str = "SANDBOX\\admin";
/// The user id of the domain's administrator (forms and Windows logins).
pub const ADMIN_ID: &str = "admin";
/// A service account of the domain, as scripts log in with (Windows logins).
pub const SERVICE_ID: &str = "svc_qtool";
pub const SERVICE_USER: &str = "SANDBOX\\svc_qtool";
pub const CERT_USER: &str = "INTERNAL\\sa_api";
pub const QEM_USER: &str = "SANDBOX\\qemadmin";

/// Files holding the sandbox's secrets (all 0600).
#[derive(Debug, Clone)]
pub struct SecretFiles {
    pub admin_jwt: PathBuf,
    pub forms_password: PathBuf,
    /// The password of the service account `SANDBOX\svc_qtool`.
    pub service_password: PathBuf,
    pub qem_password: PathBuf,
    pub qem_api_token: PathBuf,
}

impl SecretFiles {
    pub fn new(dir: &Path) -> SecretFiles {
        SecretFiles {
            admin_jwt: dir.join("admin.jwt"),
            forms_password: dir.join("forms_password"),
            service_password: dir.join("svc_qtool_password"),
            qem_password: dir.join("qem_password"),
            qem_api_token: dir.join("qem_api_token"),
        }
    }
}

pub struct Endpoints {
    pub proxy: SocketAddr,
    pub cert: SocketAddr,
    /// The Windows authentication module (port 4244 on a site).
    pub auth: SocketAddr,
    /// The engine's certificate port (4747 on a site).
    pub engine: SocketAddr,
    pub qem: SocketAddr,
}

impl Endpoints {
    pub fn proxy_url(&self) -> String {
        https_url(self.proxy)
    }
    pub fn cert_url(&self) -> String {
        https_url(self.cert)
    }
    pub fn qem_url(&self) -> String {
        https_url(self.qem)
    }
    pub fn auth_url(&self) -> String {
        https_url(self.auth)
    }
    /// `wss://host:port` of the engine's certificate port.
    pub fn engine_url(&self) -> String {
        wss_url(self.engine)
    }
}

/// `wss://host:port` (a WebSocket over TLS) for a listen address.
pub fn wss_url(addr: SocketAddr) -> String {
    https_url(addr).replacen("https://", "wss://", 1)
}

/// `https://host:port`; a wildcard listen address is reached through loopback.
pub fn https_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("https://{}", SocketAddr::new(ip, addr.port()))
}

/// Single-quote for POSIX shells.
fn sh(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-:=,+@".contains(&b))
    {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn path_text(p: &Path) -> String {
    p.display().to_string()
}

pub fn document(
    state_dir: &Path,
    pki: &PkiPaths,
    secrets: &SecretFiles,
    endpoints: &Endpoints,
    require_channel_binding: bool,
) -> Value {
    let proxy_url = https_url(endpoints.proxy);
    let cert_url = https_url(endpoints.cert);
    let qem_url = https_url(endpoints.qem);
    let jwt_url = format!("{proxy_url}/jwt");
    let forms_url = format!("{proxy_url}/form");
    let engine_url = wss_url(endpoints.engine);
    let proxy_wss = wss_url(endpoints.proxy);
    let ca = path_text(&pki.ca_cert);
    let contexts = vec![
        format!(
            "qtool context create sandbox-jwt --server {} --server-type windows --ca-cert {} \
             --jwt-key {} --jwt-userid {JWT_USERID} --jwt-userdirectory {JWT_USERDIRECTORY} \
             --jwt-audience {JWT_AUDIENCE}",
            sh(&jwt_url),
            sh(&ca),
            sh(&path_text(&pki.jwt_private_key)),
        ),
        format!(
            "qtool context create sandbox-cert --server {} --server-type windows --ca-cert {} \
             --client-cert {} --client-key {} --user {}",
            sh(&cert_url),
            sh(&ca),
            sh(&path_text(&pki.client_cert)),
            sh(&path_text(&pki.client_key)),
            sh(CERT_USER),
        ),
        format!(
            "qtool context create sandbox-ntlm --server {} --server-type windows --ca-cert {} \
             --auth ntlm --user {} --password-stdin < {}",
            sh(&proxy_url),
            sh(&ca),
            sh(SERVICE_USER),
            sh(&path_text(&secrets.service_password)),
        ),
        format!(
            "qtool context create sandbox-qem --server {} --server-type qem --ca-cert {} \
             --user {} --password-stdin < {}",
            sh(&qem_url),
            sh(&ca),
            sh(QEM_USER),
            sh(&path_text(&secrets.qem_password)),
        ),
    ];
    json!({
        "version": 1,
        "state_dir": path_text(state_dir),
        "ca_cert": ca,
        "qseow": {
            "proxy_url": proxy_url,
            "jwt_url": jwt_url,
            "forms_url": forms_url,
            "default_proxy": {
                "url": proxy_url,
                "windows_pattern": WINDOWS_PATTERN,
                "session_cookie": DEFAULT_COOKIE,
            },
            "windows_auth": {
                "module_url": https_url(endpoints.auth),
                "channel_binding": if require_channel_binding { "required" } else { "accepted" },
                "users": [
                    {"user": FORMS_USER, "password_file": path_text(&secrets.forms_password)},
                    {"user": SERVICE_USER, "password_file": path_text(&secrets.service_password)},
                ],
            },
            "cert_url": cert_url,
            "jwt": {
                "private_key": path_text(&pki.jwt_private_key),
                "certificate": path_text(&pki.jwt_cert),
                "audience": JWT_AUDIENCE,
                "userid": JWT_USERID,
                "userdirectory": JWT_USERDIRECTORY,
                "session_cookie": JWT_COOKIE,
                "token_file": path_text(&secrets.admin_jwt),
            },
            "client_cert": {
                "cert": path_text(&pki.client_cert),
                "key": path_text(&pki.client_key),
                "user": CERT_USER,
            },
            "forms": {
                "user": FORMS_USER,
                "password_file": path_text(&secrets.forms_password),
            },
            "engine_url": engine_url,
            "engine": {
                "cert_url": engine_url,
                "jwt_url": format!("{proxy_wss}/jwt"),
                "forms_url": format!("{proxy_wss}/form"),
                "app_path": "/app/{app id}[/identity/{name}][/ttl/{seconds}]",
                "api_version": crate::engine::spec::ENGINE_VERSION,
                "user": CERT_USER,
            },
        },
        "qem": {
            "url": qem_url,
            "user": QEM_USER,
            "password_file": path_text(&secrets.qem_password),
            "api_token_file": path_text(&secrets.qem_api_token),
            "jwt": {
                "private_key": path_text(&pki.jwt_private_key),
                "certificate": path_text(&pki.jwt_cert),
            },
        },
        "contexts": contexts,
    })
}

/// Write the document atomically and return its pretty text.
pub fn write(state_dir: &Path, doc: &Value) -> Result<String> {
    let text = serde_json::to_string_pretty(doc).unwrap_or_else(|_| doc.to_string());
    files::atomic_write(
        &state_dir.join(FILE_NAME),
        format!("{text}\n").as_bytes(),
        Sensitivity::Public,
    )?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_urls() {
        assert_eq!(sh("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(sh("SANDBOX\\qemadmin"), "'SANDBOX\\qemadmin'");
        assert_eq!(sh("it's"), "'it'\\''s'");
        assert_eq!(sh("/tmp/x.pem"), "/tmp/x.pem");
        assert_eq!(
            https_url("0.0.0.0:443".parse().unwrap()),
            "https://127.0.0.1:443"
        );
        assert_eq!(
            https_url("[::1]:8443".parse().unwrap()),
            "https://[::1]:8443"
        );
    }
}
