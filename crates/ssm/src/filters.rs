//! Parameter filters: `ParameterFilters` (`DescribeParameters`, `GetParametersByPath`)
//! and the deprecated `Filters` of `DescribeParameters`, checked by the service's rules
//! (the model has checked lengths and the key pattern) and matched against a stored
//! parameter.
//!
//! The rules, as AWS documents them: `DescribeParameters` takes every key but `Label`,
//! `GetParametersByPath` only `Type`, `KeyId` and `Label`; `Path` takes the options
//! `OneLevel` (its default) and `Recursive`, `Name` also `Contains`, `Label` only `Equals`,
//! the others `Equals` (the default) and `BeginsWith`; a key appears once per request;
//! every key but `tag:<key>` needs values (a `tag:` filter without values asks whether
//! the tag is there). Labels are not supported here, so a `Label` filter matches nothing.
//!
//! Matching is pure: this file never reads the store.

use serde::Deserialize;

use crate::error::SsmError;
use crate::parameters::{NAME_CHARS, PATH_RULES, Result, StoredParameter};

/// One `ParameterStringFilter`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Filter {
    pub(crate) key: String,
    pub(crate) option: Option<String>,
    pub(crate) values: Option<Vec<String>>,
}

/// One deprecated `ParametersFilter` (keys `Name`, `Type`, `KeyId`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LegacyFilter {
    pub(crate) key: String,
    pub(crate) values: Vec<String>,
}

/// Which operation the filters are for (they take different keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    DescribeParameters,
    GetParametersByPath,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Name,
    Type,
    KeyId,
    Path,
    Tier,
    DataType,
    Label,
    Tag(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opt {
    Equals,
    BeginsWith,
    Contains,
    OneLevel,
    Recursive,
}

#[derive(Debug, Clone)]
struct Check {
    field: Field,
    option: Opt,
    values: Vec<String>,
}

/// Checked filters; a parameter matches when it matches every one of them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filters(Vec<Check>);

const TYPES: [&str; 3] = ["String", "StringList", "SecureString"];
const TIERS: [&str; 3] = ["Standard", "Advanced", "Intelligent-Tiering"];

fn field(key: &str) -> Option<Field> {
    Some(match key {
        "Name" => Field::Name,
        "Type" => Field::Type,
        "KeyId" => Field::KeyId,
        "Path" => Field::Path,
        "Tier" => Field::Tier,
        "DataType" => Field::DataType,
        "Label" => Field::Label,
        k => Field::Tag(
            k.strip_prefix("tag:")
                .filter(|t| !t.is_empty())?
                .to_string(),
        ),
    })
}

fn option(name: &str) -> Option<Opt> {
    Some(match name {
        "Equals" => Opt::Equals,
        "BeginsWith" => Opt::BeginsWith,
        "Contains" => Opt::Contains,
        "OneLevel" => Opt::OneLevel,
        "Recursive" => Opt::Recursive,
        _ => return None,
    })
}

/// The options a key takes, as AWS lists them in its message.
fn allowed(field: &Field, api: Api) -> &'static [&'static str] {
    match (field, api) {
        (Field::Path, _) => &["Recursive", "OneLevel"],
        (Field::Name, _) => &["BeginsWith", "Contains", "Equals"],
        (Field::Label, _) => &["Equals"],
        _ => &["BeginsWith", "Equals"],
    }
}

/// A path as filters compare it: a leading slash, no trailing one (`/` stays `/`).
fn as_path(name: &str) -> String {
    let trimmed = name.trim_matches('/');
    format!("/{trimmed}")
}

/// The hierarchy level a parameter is in: `/a/b` for `/a/b/c`, `/` for `/c` and `c`.
fn parent(name: &str) -> String {
    let path = as_path(name);
    match path.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => path[..i].to_string(),
    }
}

fn check_path_value(value: &str) -> Result<()> {
    let under_root = value.trim_start_matches('/').to_ascii_lowercase();
    if under_root.starts_with("aws") || under_root.starts_with("ssm") {
        return Err(SsmError::Validation(
            "Filters for common parameters can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). When using global parameters, please specify within a global namespace."
                .into(),
        ));
    }
    if !value.starts_with('/') || value.contains("//") || !NAME_CHARS.is_match(value) {
        return Err(SsmError::Validation(PATH_RULES.into()));
    }
    Ok(())
}

impl Filters {
    /// Checks `ParameterFilters` for `api`, in the order AWS reports what is wrong.
    pub(crate) fn parse(filters: &[Filter], api: Api) -> Result<Filters> {
        let mut checks: Vec<Check> = Vec::new();
        let mut keys: Vec<&str> = Vec::new();
        for f in filters {
            let Some(field) = field(&f.key) else {
                // The model's pattern refuses these before they get here.
                return Err(SsmError::InvalidFilterKey(format!(
                    "The following filter key is not valid: {}.",
                    f.key
                )));
            };
            match api {
                Api::DescribeParameters if field == Field::Label => {
                    return Err(SsmError::InvalidFilterKey(
                        "The following filter key is not valid: Label. Valid filter keys include: [Path, Name, Type, KeyId, Tier]."
                            .into(),
                    ));
                }
                Api::GetParametersByPath
                    if !matches!(field, Field::Type | Field::KeyId | Field::Label) =>
                {
                    return Err(SsmError::InvalidFilterKey(format!(
                        "The following filter key is not valid: {}. Valid filter keys include: [Type, KeyId, Label].",
                        f.key
                    )));
                }
                _ => {}
            }
            let values = f.values.clone().unwrap_or_default();
            if values.is_empty() && !matches!(field, Field::Tag(_)) {
                return Err(SsmError::InvalidFilterValue(format!(
                    "The following filter values are missing : null for filter key {}.",
                    f.key
                )));
            }
            if keys.contains(&f.key.as_str()) {
                return Err(SsmError::InvalidFilterKey(format!(
                    "The following filter is duplicated in the request: {}. A request can contain only one occurrence of a specific filter.",
                    f.key
                )));
            }
            keys.push(&f.key);
            let default = if field == Field::Path {
                "OneLevel"
            } else {
                "Equals"
            };
            let name = f.option.as_deref().unwrap_or(default);
            let options = allowed(&field, api);
            let opt = option(name).filter(|_| options.contains(&name));
            let Some(opt) = opt else {
                return Err(SsmError::InvalidFilterOption(format!(
                    "The following filter option is not valid: {name}. Valid options include: [{}].",
                    options.join(", ")
                )));
            };
            let valid: &[&str] = match field {
                Field::Path => {
                    for v in &values {
                        check_path_value(v)?;
                    }
                    &[]
                }
                Field::Type => &TYPES,
                Field::Tier => &TIERS,
                _ => &[],
            };
            // Only an exact match can be told to be impossible.
            if let Some(bad) = values
                .iter()
                .find(|v| opt == Opt::Equals && !valid.is_empty() && !valid.contains(&v.as_str()))
            {
                return Err(SsmError::InvalidFilterValue(format!(
                    "The following filter value is not valid: {bad}. Valid values include: [{}].",
                    valid.join(", ")
                )));
            }
            let values = if field == Field::Path {
                values.iter().map(|v| as_path(v)).collect()
            } else {
                values
            };
            checks.push(Check {
                field,
                option: opt,
                values,
            });
        }
        Ok(Filters(checks))
    }

    /// The deprecated `Filters`: `Name` matches names beginning with a value, `Type` and
    /// `KeyId` match exactly.
    pub(crate) fn legacy(filters: &[LegacyFilter]) -> Result<Filters> {
        let mut checks = Vec::new();
        for f in filters {
            let (field, option) = match f.key.as_str() {
                "Name" => (Field::Name, Opt::BeginsWith),
                "Type" => (Field::Type, Opt::Equals),
                "KeyId" => (Field::KeyId, Opt::Equals),
                // The model's enum refuses the others first.
                other => {
                    return Err(SsmError::InvalidFilterKey(format!(
                        "The following filter key is not valid: {other}. Valid filter keys include: [Name, Type, KeyId]."
                    )));
                }
            };
            checks.push(Check {
                field,
                option,
                values: f.values.clone(),
            });
        }
        Ok(Filters(checks))
    }

    /// Whether `p` passes every filter.
    pub(crate) fn matches(&self, p: &StoredParameter) -> bool {
        self.0.iter().all(|c| c.matches(p))
    }

    /// The names a `Name` `Equals` filter asks for, sorted and unique: a search needs to
    /// read only those.
    pub(crate) fn exact_names(&self) -> Option<Vec<String>> {
        let c = self
            .0
            .iter()
            .find(|c| c.field == Field::Name && c.option == Opt::Equals)?;
        let mut names = c.values.clone();
        names.sort();
        names.dedup();
        Some(names)
    }

    /// A prefix every matching name has (the empty string when there is none to say): a
    /// search scans only the names under it.
    pub(crate) fn scan_prefix(&self) -> String {
        for c in &self.0 {
            match (&c.field, c.option, c.values.as_slice()) {
                (Field::Path, _, [path]) if path != "/" => return format!("{path}/"),
                (Field::Name, Opt::BeginsWith, [prefix]) => return prefix.clone(),
                _ => {}
            }
        }
        String::new()
    }
}

impl Check {
    fn matches(&self, p: &StoredParameter) -> bool {
        let field: Option<&str> = match &self.field {
            Field::Name => Some(&p.name),
            Field::Type => Some(&p.kind),
            Field::KeyId => p.effective_key_id(),
            Field::Tier => Some(&p.tier),
            Field::DataType => Some(&p.data_type),
            // No labels here: nothing carries one.
            Field::Label => None,
            Field::Tag(key) => {
                let Some(tag) = p.tags.iter().find(|t| &t.key == key) else {
                    return false;
                };
                if self.values.is_empty() {
                    return true;
                }
                Some(&tag.value)
            }
            Field::Path => {
                return match self.option {
                    Opt::Recursive => {
                        let path = as_path(&p.name);
                        self.values
                            .iter()
                            .any(|v| v == "/" || path.starts_with(&format!("{v}/")))
                    }
                    _ => {
                        let level = parent(&p.name);
                        self.values.contains(&level)
                    }
                };
            }
        };
        let Some(field) = field else {
            return false;
        };
        self.values.iter().any(|v| match self.option {
            Opt::BeginsWith => field.starts_with(v.as_str()),
            Opt::Contains => field.contains(v.as_str()),
            _ => field == v,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parameters::Tag;

    fn param(name: &str, kind: &str) -> StoredParameter {
        StoredParameter {
            name: name.into(),
            kind: kind.into(),
            value: "v".into(),
            data_type: "text".into(),
            tier: "Standard".into(),
            last_modified_date: 0.0,
            description: None,
            allowed_pattern: None,
            key_id: None,
            policies: None,
            tags: vec![Tag {
                key: "env".into(),
                value: "prod".into(),
            }],
            last_modified_user: None,
        }
    }

    fn filter(key: &str, option: Option<&str>, values: &[&str]) -> Filter {
        Filter {
            key: key.into(),
            option: option.map(str::to_owned),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn describe(filters: &[Filter]) -> Result<Filters> {
        Filters::parse(filters, Api::DescribeParameters)
    }

    #[test]
    fn terraforms_name_filter_matches_only_that_name() {
        let f = describe(&[filter("Name", Some("Equals"), &["/app/db"])]).unwrap();
        assert!(f.matches(&param("/app/db", "String")));
        assert!(!f.matches(&param("/app/db2", "String")));
        assert!(!f.matches(&param("app/db", "String")));
        assert_eq!(f.exact_names(), Some(vec!["/app/db".to_string()]));
    }

    #[test]
    fn options_of_each_key() {
        let p = param("/app/db/url", "SecureString");
        let m = |fs: &[Filter]| describe(fs).unwrap().matches(&p);
        assert!(m(&[filter("Name", Some("BeginsWith"), &["/app/"])]));
        assert!(m(&[filter("Name", Some("Contains"), &["db/u"])]));
        assert!(!m(&[filter("Name", Some("Contains"), &["xyz"])]));
        assert!(m(&[filter("Type", None, &["String", "SecureString"])]));
        assert!(m(&[filter("KeyId", None, &["alias/aws/ssm"])]));
        assert!(m(&[filter("Tier", Some("BeginsWith"), &["Stand"])]));
        assert!(m(&[filter("DataType", None, &["text"])]));
        assert!(m(&[filter("tag:env", None, &[])]), "a tag key alone");
        assert!(m(&[filter("tag:env", None, &["prod"])]));
        assert!(m(&[filter("tag:env", Some("BeginsWith"), &["pr"])]));
        assert!(!m(&[filter("tag:env", None, &["dev"])]));
        assert!(!m(&[filter("tag:team", None, &[])]));
        assert!(
            m(&[filter("Path", None, &["/app/db"])]),
            "OneLevel by default"
        );
        assert!(m(&[filter("Path", None, &["/app/db/"])]));
        assert!(!m(&[filter("Path", Some("OneLevel"), &["/app"])]));
        assert!(m(&[filter("Path", Some("Recursive"), &["/app"])]));
        assert!(m(&[filter("Path", Some("Recursive"), &["/"])]));
        assert!(!m(&[filter("Path", Some("Recursive"), &["/ap"])]));
        assert!(
            describe(&[filter("Path", None, &["/"])])
                .unwrap()
                .matches(&param("top", "String")),
            "a name without a slash is at the root"
        );
        assert!(!m(&[
            filter("Type", None, &["SecureString"]),
            filter("Name", None, &["/other"]),
        ]));
    }

    #[test]
    fn the_services_rules() {
        let code = |fs: &[Filter], api| {
            use sagestack_protocol::AwsError;
            let e = Filters::parse(fs, api).unwrap_err();
            (e.code().to_string(), e.to_string())
        };
        let d = Api::DescribeParameters;
        assert_eq!(
            code(&[filter("Label", None, &["x"])], d).0,
            "InvalidFilterKey"
        );
        assert_eq!(
            code(&[filter("Name", None, &[])], d),
            (
                "InvalidFilterValue".into(),
                "The following filter values are missing : null for filter key Name.".into()
            )
        );
        assert_eq!(
            code(
                &[
                    filter("Type", None, &["String"]),
                    filter("Type", None, &["StringList"])
                ],
                d
            )
            .0,
            "InvalidFilterKey"
        );
        assert_eq!(
            code(&[filter("Path", Some("Equals"), &["/a"])], d),
            (
                "InvalidFilterOption".into(),
                "The following filter option is not valid: Equals. Valid options include: [Recursive, OneLevel].".into()
            )
        );
        assert_eq!(
            code(&[filter("Type", Some("Contains"), &["String"])], d).0,
            "InvalidFilterOption"
        );
        assert_eq!(
            code(&[filter("Type", None, &["Text"])], d).0,
            "InvalidFilterValue"
        );
        assert_eq!(
            code(&[filter("Tier", None, &["Cheap"])], d).0,
            "InvalidFilterValue"
        );
        assert_eq!(
            code(&[filter("Path", None, &["/aws/x"])], d).0,
            "ValidationException"
        );
        assert_eq!(
            code(&[filter("Path", None, &["a/b"])], d).0,
            "ValidationException"
        );
        let by_path = Api::GetParametersByPath;
        assert_eq!(
            code(&[filter("Name", None, &["x"])], by_path).0,
            "InvalidFilterKey"
        );
        assert_eq!(
            code(&[filter("Label", Some("BeginsWith"), &["x"])], by_path).0,
            "InvalidFilterOption"
        );
        assert!(Filters::parse(&[filter("Label", None, &["x"])], by_path).is_ok());
    }

    #[test]
    fn scans_narrow_to_a_prefix() {
        let f = describe(&[filter("Path", Some("Recursive"), &["/app/"])]).unwrap();
        assert_eq!(f.scan_prefix(), "/app/");
        let f = describe(&[filter("Name", Some("BeginsWith"), &["/a"])]).unwrap();
        assert_eq!(f.scan_prefix(), "/a");
        let f = describe(&[filter("Path", None, &["/"])]).unwrap();
        assert_eq!(f.scan_prefix(), "");
    }

    #[test]
    fn legacy_name_filters_match_prefixes() {
        let f = Filters::legacy(&[LegacyFilter {
            key: "Name".into(),
            values: vec!["/app".into()],
        }])
        .unwrap();
        assert!(f.matches(&param("/app/x", "String")));
        assert!(!f.matches(&param("/other", "String")));
    }
}
