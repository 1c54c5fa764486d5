//! QRS filters: `property op value [and|or ...]`. Values typed by users through conveniences
//! (`--name`) are quoted here (single quotes, embedded quotes doubled); the whole filter is then
//! URL-encoded exactly once by the HTTP layer's query encoding.

/// A QRS string literal: `O'Brien` → `'O''Brien'`.
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// `field eq 'value'`.
pub fn eq(field: &str, value: &str) -> String {
    format!("{field} eq {}", quote(value))
}

/// Combine optional clauses with `and`, each parenthesised when there is more than one.
pub fn and(clauses: &[Option<String>]) -> Option<String> {
    let parts: Vec<&String> = clauses
        .iter()
        .flatten()
        .filter(|c| !c.trim().is_empty())
        .collect();
    match parts.len() {
        0 => None,
        1 => Some(parts[0].clone()),
        _ => Some(
            parts
                .iter()
                .map(|p| format!("({p})"))
                .collect::<Vec<_>>()
                .join(" and "),
        ),
    }
}

/// The filter for `--filter F` plus `--name N` (either may be absent).
pub fn with_name(filter: Option<&str>, name_field: &str, name: Option<&str>) -> Option<String> {
    and(&[filter.map(str::to_string), name.map(|n| eq(name_field, n))])
}

/// True when `text` looks like a QRS id (a GUID).
pub fn is_guid(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(quote("O'Brien"), "'O''Brien'");
        assert_eq!(eq("name", "O'Brien"), "name eq 'O''Brien'");
        assert_eq!(eq("name", "a&b#c"), "name eq 'a&b#c'");
    }

    #[test]
    fn clauses_combine() {
        assert_eq!(and(&[None, None]), None);
        assert_eq!(and(&[Some("a eq 1".into()), None]).unwrap(), "a eq 1");
        assert_eq!(
            with_name(Some("published eq true"), "name", Some("X")).unwrap(),
            "(published eq true) and (name eq 'X')"
        );
        assert!(is_guid("931d847e-b36a-4511-9547-6cc0f46b1b9c"));
        assert!(!is_guid("Sales"));
    }
}
