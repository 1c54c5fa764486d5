//! Every QRS path qtool calls, as templates relative to `/qrs` (the spec's `basePath`). Commands
//! never build paths by hand: they use these constants or the per-resource operations of
//! [`crate::qrs::resources`], so one test can check all of them against the QRS OpenAPI spec.

use reqwest::Method;

use crate::error::{Error, Result};

/// A path template (`/app/{id}/export/{token}`) with its method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub method: &'static str,
    pub template: &'static str,
}

const fn ep(method: &'static str, template: &'static str) -> Endpoint {
    Endpoint { method, template }
}

pub const ABOUT: Endpoint = ep("GET", "/about");
pub const SERVICE_STATUS_FULL: Endpoint = ep("GET", "/servicestatus/full");
pub const APP_EXPORT: Endpoint = ep("POST", "/app/{id}/export/{token}");
pub const APP_UPLOAD: Endpoint = ep("POST", "/app/upload");
pub const APP_UPLOAD_REPLACE: Endpoint = ep("POST", "/app/upload/replace");
pub const APP_COPY: Endpoint = ep("POST", "/app/{id}/copy");
pub const APP_PUBLISH: Endpoint = ep("PUT", "/app/{id}/publish");
pub const APP_RELOAD: Endpoint = ep("POST", "/app/{id}/reload");
pub const TASK_START_SYNC: Endpoint = ep("POST", "/task/{id}/start/synchronous");
pub const EXECUTION_SESSION: Endpoint = ep("GET", "/executionsession/{id}");
pub const EXECUTION_RESULT_LIST: Endpoint = ep("GET", "/executionresult");
pub const RELOADTASK_CREATE: Endpoint = ep("POST", "/reloadtask/create");
pub const SERVER_NODES: Endpoint = ep("GET", "/servernodeconfiguration");
pub const PROXY_SERVICE_FULL: Endpoint = ep("GET", "/proxyservice/full");
pub const PROXY_SERVICE_PUT: Endpoint = ep("PUT", "/proxyservice/{id}");

/// All fixed endpoints (the per-resource ones come from the resource table).
pub const ALL: &[Endpoint] = &[
    ABOUT,
    SERVICE_STATUS_FULL,
    APP_EXPORT,
    APP_UPLOAD,
    APP_UPLOAD_REPLACE,
    APP_COPY,
    APP_PUBLISH,
    APP_RELOAD,
    TASK_START_SYNC,
    EXECUTION_SESSION,
    EXECUTION_RESULT_LIST,
    RELOADTASK_CREATE,
    SERVER_NODES,
    PROXY_SERVICE_FULL,
    PROXY_SERVICE_PUT,
];

impl Endpoint {
    pub fn method(&self) -> Method {
        Method::from_bytes(self.method.as_bytes()).unwrap_or(Method::GET)
    }

    /// Fill the `{..}` placeholders in order; each value becomes one (percent-encoded) segment.
    pub fn path(&self, params: &[&str]) -> Result<QrsPath> {
        fill(self.template, params)
    }
}

/// A QRS path as segments after `/qrs/`, each encoded when the URL is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrsPath {
    pub segments: Vec<String>,
}

impl QrsPath {
    /// Path for logs and messages: `/qrs/app/123`.
    pub fn display(&self) -> String {
        format!("/qrs/{}", self.segments.join("/"))
    }
}

pub fn fill(template: &str, params: &[&str]) -> Result<QrsPath> {
    let mut values = params.iter();
    let mut segments = Vec::new();
    for part in template.trim_start_matches('/').split('/') {
        if part.starts_with('{') && part.ends_with('}') {
            let value = values
                .next()
                .ok_or_else(|| Error::usage(format!("{template}: missing value for {part}")))?;
            if value.is_empty() {
                return Err(Error::usage(format!("{template}: {part} cannot be empty")));
            }
            segments.push((*value).to_string());
        } else {
            segments.push(part.to_string());
        }
    }
    Ok(QrsPath { segments })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholders_in_order() {
        let p = APP_EXPORT.path(&["a b", "t"]).unwrap();
        assert_eq!(p.segments, vec!["app", "a b", "export", "t"]);
        assert_eq!(p.display(), "/qrs/app/a b/export/t");
        assert!(APP_EXPORT.path(&["only-one"]).is_err());
        assert!(APP_COPY.path(&[""]).is_err());
    }
}
