//! The proxy's internal forms authentication module, as QSEoW serves it on every "Ticket"
//! virtual proxy for clients that do not get Windows authentication:
//!
//! - an unauthenticated request is redirected to `/{prefix}/internal_forms_authentication/`
//!   with `targetId`, an id for the address first asked for;
//! - `GET` there is the login page (`username` as `DOMAIN\user`, `pwd`);
//! - the page posts the two fields back to the same address as
//!   `application/x-www-form-urlencoded`, without an Xrfkey pair (the login page is not the
//!   repository API); success sets the virtual proxy's session cookie and redirects to the target.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;

use super::{Proxy, prefix_path};
use crate::qrs::VirtualProxy;
use crate::server::plain;

/// The login module's path segment after the virtual proxy prefix.
pub const LOGIN_PATH: &str = "internal_forms_authentication";
/// Largest forms login body (user name + password).
const MAX_FORM_BODY: usize = 16 * 1024;

/// `302` to the login page, remembering `target` (the path and query first asked for).
pub fn redirect_to_login(proxy: &Proxy, vp: &VirtualProxy, target: String) -> Response {
    let target_id = proxy.remember_target(target);
    redirect(&login_location(vp, &target_id), None)
}

/// `/{prefix}/internal_forms_authentication/?targetId=<id>`.
pub fn login_location(vp: &VirtualProxy, target_id: &str) -> String {
    format!("{}{LOGIN_PATH}/?targetId={target_id}", prefix_path(vp))
}

/// `GET` (the page) or `POST` (the credentials) on the login module.
pub async fn login(proxy: &Proxy, vp: &VirtualProxy, req: Request) -> Response {
    let target_id = parse_urlencoded(req.uri().query().unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("targetId"))
        .map(|(_, v)| v);
    match *req.method() {
        Method::GET | Method::HEAD => html(
            StatusCode::OK,
            login_page("Enter DOMAIN\\user and password."),
        ),
        Method::POST => {
            let (parts, body) = req.into_parts();
            let body = match crate::body::read_bounded(
                body,
                &parts.headers,
                &parts.extensions,
                MAX_FORM_BODY,
            )
            .await
            {
                Ok(buffered) => buffered.bytes,
                Err(e) => return e.decorate(plain(e.status(), &format!("{e}\n"))),
            };
            let form = parse_urlencoded(&String::from_utf8_lossy(&body));
            let field = |name: &str| {
                form.iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or("")
            };
            match proxy.check_forms_user(field("username"), field("pwd")) {
                Some(identity) => {
                    let target = target_id
                        .and_then(|id| proxy.take_target(&id))
                        .unwrap_or_else(|| prefix_path(vp));
                    let session = proxy.new_session(vp, identity);
                    redirect(&target, session.set_cookie.as_deref())
                }
                None => html(
                    StatusCode::UNAUTHORIZED,
                    login_page("Invalid user name or password."),
                ),
            }
        }
        _ => {
            let mut resp = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST\n");
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
            resp
        }
    }
}

fn redirect(location: &str, set_cookie: Option<&str>) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    if let Some(c) = set_cookie
        && let Ok(v) = HeaderValue::from_str(c)
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn html(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// The login page; the form posts to the page's own address (so `targetId` goes along).
fn login_page(message: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Qlik Sense (qtool sandbox) - Log in</title></head>\n\
         <body><h1>Log in</h1><p>{message}</p>\n\
         <form method=\"post\" enctype=\"application/x-www-form-urlencoded\">\n\
         <label>User name <input name=\"username\" type=\"text\" placeholder=\"DOMAIN\\user\"></label>\n\
         <label>Password <input name=\"pwd\" type=\"password\"></label>\n\
         <button type=\"submit\">Log in</button>\n\
         </form></body></html>\n"
    )
}

/// `application/x-www-form-urlencoded` pairs (`+` is a space).
pub fn parse_urlencoded(text: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned()
    };
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        let f = parse_urlencoded("username=SANDBOX%5Cadmin&pwd=a+b%26c");
        assert_eq!(f[0], ("username".into(), "SANDBOX\\admin".into()));
        assert_eq!(f[1], ("pwd".into(), "a b&c".into()));
    }
}
