//! Who a sandbox request runs as, decided by the front door (JWT virtual proxy, forms session,
//! or certificate port + `X-Qlik-User`) and handed to the QRS emulator as a request extension.

/// A QSEoW user, as `UserDirectory=<dir>; UserId=<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub user_directory: String,
    pub user_id: String,
}

impl Identity {
    pub fn new(user_directory: impl Into<String>, user_id: impl Into<String>) -> Identity {
        Identity {
            user_directory: user_directory.into(),
            user_id: user_id.into(),
        }
    }

    /// Whether `other` is the same user (directory and id compared without case, as Windows
    /// accounts are).
    pub fn same_user(&self, other: &Identity) -> bool {
        self.user_directory
            .eq_ignore_ascii_case(&other.user_directory)
            && self.user_id.eq_ignore_ascii_case(&other.user_id)
    }

    /// `DIR\id`, as QRS shows `modifiedByUserName`.
    pub fn display_name(&self) -> String {
        format!("{}\\{}", self.user_directory, self.user_id)
    }

    /// Parse an `X-Qlik-User` value: `UserDirectory=INTERNAL; UserId=sa_api` (values may be
    /// URL-encoded UTF-8; keys are case-insensitive).
    pub fn from_qlik_user_header(value: &str) -> Option<Identity> {
        let mut dir = None;
        let mut id = None;
        for part in value.split(';') {
            let (k, v) = part.split_once('=')?;
            let v = percent_encoding::percent_decode_str(v.trim())
                .decode_utf8()
                .ok()?
                .into_owned();
            match k.trim().to_ascii_lowercase().as_str() {
                "userdirectory" => dir = Some(v),
                "userid" => id = Some(v),
                _ => {}
            }
        }
        Some(Identity::new(
            dir.filter(|d| !d.is_empty())?,
            id.filter(|i| !i.is_empty())?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qlik_user_header() {
        let id = Identity::from_qlik_user_header("UserDirectory=INTERNAL; UserId=sa_api").unwrap();
        assert_eq!(id.display_name(), "INTERNAL\\sa_api");
        assert!(Identity::from_qlik_user_header("UserId=x").is_none());
        assert!(Identity::from_qlik_user_header("garbage").is_none());
        let enc = Identity::from_qlik_user_header("userdirectory=DOM; userid=j%C3%B6rg").unwrap();
        assert_eq!(enc.user_id, "jörg");
    }
}
