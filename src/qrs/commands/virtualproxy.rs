//! `qrs virtualproxy create-jwt`: the QMC clicks of the JWT tutorial as one command. Creates a
//! VirtualProxyConfig with JWT authentication, balanced on the central node, and links it to the
//! central proxy service.

use std::path::PathBuf;

use clap::Args;
use reqwest::Method;
use serde_json::{Value, json};

use super::VirtualproxyCommand;
use super::generic::{self, connect};
use super::output::print_one;
use crate::app::App;
use crate::error::{Error, ErrorClass, Result};
use crate::output::{status, warn};
use crate::qrs::client::{Body, QrsClient, json_body};
use crate::qrs::endpoints;
use crate::qrs::resources::{Op, ResourceKind};

#[derive(Debug, Args)]
pub struct CreateJwtArgs {
    /// Certificate (PEM) with the public key that verifies the tokens (publickey.cer).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// JWT audience the tokens must carry (`aud`).
    #[arg(long, value_name = "AUD")]
    pub audience: String,
    /// Virtual proxy prefix (lowercase, e.g. jwt).
    #[arg(long, value_name = "PREFIX")]
    pub prefix: String,
    /// Description (default: "JWT <prefix>").
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// Session cookie header name (default: X-Qlik-Session-<prefix>).
    #[arg(long, value_name = "NAME")]
    pub cookie_name: Option<String>,
    /// Token claim holding the user id.
    #[arg(long, value_name = "CLAIM", default_value = "userid")]
    pub userid_attribute: String,
    /// Token claim holding the user directory.
    #[arg(long, value_name = "CLAIM", default_value = "userdirectory")]
    pub userdirectory_attribute: String,
    /// Host allow list entry (repeatable), e.g. the server's IP address.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_host: Vec<String>,
    /// Do not add the central node for load balancing nor link the central proxy.
    #[arg(long)]
    pub no_link: bool,
    /// Print the virtual proxy that would be created, and stop.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(cmd: VirtualproxyCommand, app: &App) -> Result<u8> {
    let res = ResourceKind::VirtualProxyConfig;
    match cmd {
        VirtualproxyCommand::Common(v) => generic::run(res, v, app),
        VirtualproxyCommand::Create(a) => generic::create(res, a, app),
        VirtualproxyCommand::CreateJwt(a) => create_jwt(a, app),
    }
}

fn create_jwt(a: CreateJwtArgs, app: &App) -> Result<u8> {
    let pem = std::fs::read_to_string(&a.cert)
        .map_err(|e| Error::io(format!("reading {}", a.cert.display()), e))?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(
            Error::input(format!("{} is not a PEM certificate", a.cert.display())).with_hint(
                "pass the certificate (publickey.cer), not the private key; `qtool jwt cert` makes one",
            ),
        );
    }
    let prefix = a.prefix.trim_matches('/').to_string();
    if prefix.is_empty()
        || !prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._~".contains(c))
    {
        return Err(Error::usage(format!(
            "prefix `{}` must be lowercase letters, digits and -._~",
            a.prefix
        )));
    }
    let mut body = json!({
        "prefix": prefix,
        "description": a.description.clone().unwrap_or_else(|| format!("JWT {prefix}")),
        "sessionCookieHeaderName": a.cookie_name.clone().unwrap_or_else(|| format!("X-Qlik-Session-{prefix}")),
        "authenticationMethod": 4,
        "anonymousAccessMode": 0,
        "jwtAudience": a.audience,
        "jwtPublicKeyCertificate": pem.trim(),
        "jwtAttributeUserId": a.userid_attribute,
        "jwtAttributeUserDirectory": a.userdirectory_attribute,
        "jwtAttributeMap": [],
        "websocketCrossOriginWhiteList": a.allow_host,
        "loadBalancingServerNodes": [],
        "sessionInactivityTimeout": 30,
        "tags": [],
        "customProperties": [],
    });
    let client = connect(app)?;
    let res = ResourceKind::VirtualProxyConfig;
    let created = app.block_on(async {
        if !a.no_link
            && let Some(node) = central_node(&client).await?
            && let Some(obj) = body.as_object_mut()
        {
            obj.insert("loadBalancingServerNodes".into(), json!([{"id": node}]));
        }
        if a.dry_run {
            return Ok(body.clone());
        }
        let url = client.url(&res.op_path(Op::Create, None)?, &[])?;
        let created = client
            .json(Method::POST, url, Body::Json(json_body(&body)?))
            .await?;
        if !a.no_link {
            let id = crate::output::cell(&created, "id");
            link_to_proxies(&client, &id).await?;
        }
        Ok(created)
    })?;
    if a.dry_run {
        app.printer.document(&created)?;
    } else {
        print_one(&app.printer, res, created)?;
    }
    Ok(0)
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
