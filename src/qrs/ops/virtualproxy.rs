//! The JWT virtual proxy of the tutorial as one operation: a VirtualProxyConfig with JWT
//! authentication, balanced on the central node, linked to the central proxy service.

use reqwest::Method;
use serde_json::{Value, json};

use crate::error::{Error, ErrorClass, Result};
use crate::output::{status, warn};
use crate::qrs::client::{Body, QrsClient, json_body};
use crate::qrs::endpoints;
use crate::qrs::resources::{Op, ResourceKind};

const CERT_HINT: &str =
    "pass the certificate (publickey.cer), not the private key; `qtool jwt cert` makes one";

/// Whether `text` holds a PEM certificate.
pub(crate) fn is_pem_certificate(text: &str) -> bool {
    text.contains("-----BEGIN CERTIFICATE-----")
}

/// The error for a certificate file that is not PEM.
pub(crate) fn not_a_certificate(path: &std::path::Path) -> Error {
    Error::input(format!("{} is not a PEM certificate", path.display())).with_hint(CERT_HINT)
}

/// A JWT virtual proxy to create.
#[derive(Debug, Clone)]
pub(crate) struct JwtProxy {
    /// PEM certificate whose key verifies the tokens.
    pub cert_pem: String,
    pub audience: String,
    pub prefix: String,
    pub description: Option<String>,
    pub cookie_name: Option<String>,
    pub userid_attribute: String,
    pub userdirectory_attribute: String,
    pub allow_hosts: Vec<String>,
    /// Balance on the central node and link it to the central proxy.
    pub link: bool,
}

impl JwtProxy {
    /// The VirtualProxyConfig body (without load balancing), after checking the certificate and prefix.
    pub(crate) fn body(&self) -> Result<Value> {
        if !is_pem_certificate(&self.cert_pem) {
            return Err(Error::input("the JWT certificate is not PEM").with_hint(CERT_HINT));
        }
        let prefix = self.prefix.trim_matches('/').to_string();
        if prefix.is_empty()
            || !prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._~".contains(c))
        {
            return Err(Error::usage(format!(
                "prefix `{}` must be lowercase letters, digits and -._~",
                self.prefix
            )));
        }
        Ok(json!({
            "prefix": prefix,
            "description": self.description.clone().unwrap_or_else(|| format!("JWT {prefix}")),
            "sessionCookieHeaderName": self.cookie_name.clone().unwrap_or_else(|| format!("X-Qlik-Session-{prefix}")),
            "authenticationMethod": 4,
            "anonymousAccessMode": 0,
            "jwtAudience": self.audience,
            "jwtPublicKeyCertificate": self.cert_pem.trim(),
            "jwtAttributeUserId": self.userid_attribute,
            "jwtAttributeUserDirectory": self.userdirectory_attribute,
            "jwtAttributeMap": [],
            "websocketCrossOriginWhiteList": self.allow_hosts,
            "loadBalancingServerNodes": [],
            "sessionInactivityTimeout": 30,
            "tags": [],
            "customProperties": [],
        }))
    }
}

/// Create the virtual proxy (or with `dry_run`, return the body that would be sent).
pub(crate) async fn create_jwt(
    client: &QrsClient,
    spec: &JwtProxy,
    dry_run: bool,
) -> Result<Value> {
    let mut body = spec.body()?;
    if spec.link
        && let Some(node) = central_node(client).await?
        && let Some(obj) = body.as_object_mut()
    {
        obj.insert("loadBalancingServerNodes".into(), json!([{"id": node}]));
    }
    if dry_run {
        return Ok(body);
    }
    let res = ResourceKind::VirtualProxyConfig;
    let url = client.url(&res.op_path(Op::Create, None)?, &[])?;
    let created = client
        .json(Method::POST, url, Body::Json(json_body(&body)?))
        .await?;
    if spec.link {
        let id = crate::output::cell(&created, "id");
        link_to_proxies(client, &id).await?;
    }
    Ok(created)
}

async fn central_node(client: &QrsClient) -> Result<Option<String>> {
    let path = endpoints::SERVER_NODES.path(&[])?;
    match client
        .get_list(&path, &[("filter", "isCentral eq true")])
        .await
    {
        Ok(nodes) => Ok(nodes.first().map(|n| crate::output::cell(n, "id"))),
        Err(e) if e.class() == ErrorClass::NotFound => {
            warn("this repository has no server node list; the virtual proxy is not load balanced");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Add the virtual proxy to the proxy services (the central node's, or the only one).
async fn link_to_proxies(client: &QrsClient, vp_id: &str) -> Result<()> {
    let proxies = match client
        .get_list(&endpoints::PROXY_SERVICE_FULL.path(&[])?, &[])
        .await
    {
        Ok(p) => p,
        Err(e) if e.class() == ErrorClass::NotFound => {
            warn("this repository has no proxy service list; link the virtual proxy in the QMC");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let central: Vec<&Value> = proxies
        .iter()
        .filter(|p| {
            p.pointer("/serverNodeConfiguration/isCentral")
                .and_then(Value::as_bool)
                .unwrap_or(proxies.len() == 1)
        })
        .collect();
    for proxy in central {
        let mut proxy = proxy.clone();
        let pid = crate::output::cell(&proxy, "id");
        let Some(list) = proxy
            .pointer_mut("/settings/virtualProxies")
            .and_then(Value::as_array_mut)
        else {
            warn(&format!(
                "proxy service {pid} has no virtual proxy list; link it in the QMC"
            ));
            continue;
        };
        list.push(json!({"id": vp_id}));
        let url = client.url(&endpoints::PROXY_SERVICE_PUT.path(&[&pid])?, &[])?;
        client
            .send(Method::PUT, url, Body::Json(json_body(&proxy)?))
            .await
            .map_err(|e| e.context(format!("linking the virtual proxy to proxy service {pid}")))?;
        status(&format!("Linked to proxy service {pid}"));
    }
    Ok(())
}
