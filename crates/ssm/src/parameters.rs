//! The parameters' state: versions stored as JSON documents ([`StoredParameter`]) and
//! the operations' rules (names, hierarchy, tiers, versions, paths and filters).
//!
//! The store assigns version numbers atomically, so concurrent overwrites never share a
//! version. `SecureString` values are kept as given: sagestack has no KMS, and the store
//! is trusted. Reads without `WithDecryption` return an opaque base64 stand-in instead of
//! the value, as AWS returns ciphertext.
//!
//! Shared by the API ([`crate::SsmService`]) and the native `AWS::SSM::Parameter`
//! provider; it knows neither. No HTTP and no SQL here.

use std::sync::{Arc, LazyLock};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use regex::Regex;
use sagestack_engine::{Clock, SystemClock};
use sagestack_store::{ParameterRecord, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::SsmError;
use crate::filters::{Api, Filters};

pub(crate) type Result<T> = std::result::Result<T, SsmError>;

/// Versions AWS keeps per parameter; older ones are dropped on put.
pub const MAX_VERSIONS: i64 = 100;
/// Levels a hierarchical name may have.
pub const MAX_HIERARCHY_LEVELS: usize = 15;
/// `Standard` tier value limit, in characters.
pub const STANDARD_VALUE_MAX: usize = 4096;
/// `Advanced` tier value limit, in characters.
pub const ADVANCED_VALUE_MAX: usize = 8192;
/// `GetParametersByPath` page size when `MaxResults` is absent.
pub const DEFAULT_PAGE: usize = 10;

/// A key-value pair (`Tag`), as every JSON 1.1 service here spells it.
pub use sagestack_protocol::json11::Tag;

/// One stored version of a parameter (the store's opaque document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredParameter {
    pub name: String,
    #[serde(rename = "Type")]
    pub kind: String,
    pub value: String,
    pub data_type: String,
    pub tier: String,
    /// Seconds since the epoch.
    pub last_modified_date: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// The ARN of who put this version (`LastModifiedUser`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_user: Option<String>,
}

impl StoredParameter {
    /// The KMS key a `SecureString` is encrypted with: the one given, else the account's
    /// default key for SSM (as AWS reports it); `None` for the other types.
    pub fn effective_key_id(&self) -> Option<&str> {
        (self.kind == "SecureString").then(|| self.key_id.as_deref().unwrap_or(DEFAULT_KEY_ID))
    }
}

/// The key AWS names for a `SecureString` put without a `KeyId`.
pub const DEFAULT_KEY_ID: &str = "alias/aws/ssm";

/// `PutParameter` input (also what the `AWS::SSM::Parameter` provider puts).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutParameter {
    pub name: String,
    pub value: String,
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    pub description: Option<String>,
    pub key_id: Option<String>,
    pub overwrite: Option<bool>,
    pub allowed_pattern: Option<String>,
    pub tags: Option<Vec<Tag>>,
    pub tier: Option<String>,
    pub policies: Option<String>,
    pub data_type: Option<String>,
    /// Who puts it (the caller's ARN), kept as `LastModifiedUser`; not part of the input.
    #[serde(skip)]
    pub modified_by: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetParameterInput {
    pub(crate) name: String,
    pub(crate) with_decryption: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetParametersInput {
    pub(crate) names: Vec<String>,
    pub(crate) with_decryption: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetParametersByPathInput {
    pub(crate) path: String,
    pub(crate) recursive: Option<bool>,
    pub(crate) parameter_filters: Option<Vec<crate::filters::Filter>>,
    pub(crate) with_decryption: Option<bool>,
    pub(crate) max_results: Option<u32>,
    pub(crate) next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteParameterInput {
    pub(crate) name: String,
}

/// Where ARNs point: the caller's region and account.
#[derive(Debug, Clone)]
pub struct Scope {
    pub region: String,
    pub account_id: String,
}

fn partition(region: &str) -> &'static str {
    sagestack_engine::partition_for_region(region)
}

/// `arn:aws:ssm:{region}:{account}:parameter/{name without its leading slash}`.
pub fn parameter_arn(scope: &Scope, name: &str) -> String {
    format!(
        "arn:{}:ssm:{}:{}:parameter/{}",
        partition(&scope.region),
        scope.region,
        scope.account_id,
        name.strip_prefix('/').unwrap_or(name)
    )
}

/// AWS's message for every broken name rule (it names only the `ssm` prefix).
pub(crate) const NAME_RULES: &str = "Parameter name: can't be prefixed with \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_";

/// AWS's message for a `GetParametersByPath` path that breaks the rules (the backslashes
/// around `aws` and `ssm` are part of it).
pub(crate) const PATH_RULES: &str = "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\". It can't be prefixed with \\\"aws\\\" or \\\"ssm\\\" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol \"/\". Valid example: /get/parameters2-/by1./path0_.";

pub(crate) static NAME_CHARS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9_.\-/]+$").expect("valid regex"));

/// The service's rules for a parameter name (beyond the model's length limits).
pub fn check_name(name: &str) -> Result<()> {
    if !NAME_CHARS.is_match(name) {
        return Err(SsmError::Validation(NAME_RULES.into()));
    }
    if name.contains('/') && !name.starts_with('/') {
        return Err(SsmError::Validation(NAME_RULES.into()));
    }
    let first = name.trim_start_matches('/').to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Err(SsmError::Validation(NAME_RULES.into()));
    }
    if name.starts_with('/') && name[1..].split('/').any(str::is_empty) {
        return Err(SsmError::Validation(NAME_RULES.into()));
    }
    let levels = name.trim_start_matches('/').split('/').count();
    if levels > MAX_HIERARCHY_LEVELS {
        return Err(SsmError::HierarchyLevelLimitExceeded(format!(
            "A parameter name can have at most {MAX_HIERARCHY_LEVELS} levels of hierarchy."
        )));
    }
    Ok(())
}

/// `name`, `name:version` or `name:label`.
fn split_selector(input: &str) -> (&str, Option<&str>) {
    match input.split_once(':') {
        Some((name, sel)) => (name, Some(sel)),
        None => (input, None),
    }
}

pub(crate) fn parse(record: &ParameterRecord) -> Result<StoredParameter> {
    serde_json::from_str(&record.document)
        .map_err(|e| SsmError::Internal(format!("stored parameter is unreadable: {e}")))
}

pub(crate) fn seconds(millis: i64) -> f64 {
    millis as f64 / 1000.0
}

/// The stand-in for a `SecureString` value read without decryption.
pub(crate) fn sealed(value: &str) -> String {
    STANDARD.encode(format!("sagestack-sealed:{value}"))
}

pub(crate) fn encode_token(last: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("p1:{last}"))
}

/// A page of parameters (`(name, output)` in order) as `GetParametersByPath` and
/// `DescribeParameters` answer it: `Parameters`, and a `NextToken` after the last name
/// when `more` follow.
pub(crate) fn parameters_page(page: Vec<(String, Value)>, more: bool) -> Value {
    let mut out = json!({});
    if more && let Some((last, _)) = page.last() {
        out["NextToken"] = encode_token(last).into();
    }
    out["Parameters"] = Value::Array(page.into_iter().map(|(_, v)| v).collect());
    out
}

pub(crate) fn decode_token(token: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("p1:")
        .map(str::to_owned)
}

/// The parameters (see the module doc). Shared as `Arc<Parameters>`.
pub struct Parameters {
    pub(crate) store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl Parameters {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Parameters { store, clock }
    }

    /// With the system clock.
    pub fn with_system_clock(store: Arc<dyn Store>) -> Self {
        Self::new(store, Arc::new(SystemClock))
    }

    /// Stores `input` as the next version; returns that version and what was stored.
    pub async fn put(&self, mut input: PutParameter) -> Result<(i64, StoredParameter)> {
        check_name(&input.name)?;
        // AWS treats an empty pattern as none (Terraform always sends the member).
        input.allowed_pattern = input.allowed_pattern.filter(|p| !p.is_empty());
        let overwrite = input.overwrite.unwrap_or(false);
        let tags = input.tags.clone().unwrap_or_default();
        if overwrite && !tags.is_empty() {
            return Err(SsmError::Validation(
                "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource."
                    .into(),
            ));
        }
        // What an overwrite keeps (type, tier, description, tags) comes from the current
        // version. A create that names its type needs nothing from it: the store refuses
        // the put when the name exists.
        let current = if overwrite || input.kind.is_none() {
            match self.store.get_parameter(&input.name, None).await? {
                Some(r) => Some(parse(&r)?),
                None => None,
            }
        } else {
            None
        };
        if current.is_some() && !overwrite {
            return Err(SsmError::ParameterAlreadyExists);
        }
        let kind = match (&input.kind, &current) {
            (Some(k), _) => k.clone(),
            (None, Some(c)) => c.kind.clone(),
            (None, None) => {
                return Err(SsmError::Validation(
                    "A parameter type is required when you create a parameter.".into(),
                ));
            }
        };
        let data_type = input.data_type.clone().unwrap_or_else(|| "text".into());
        if !["text", "aws:ec2:image", "aws:ssm:integration"].contains(&data_type.as_str()) {
            return Err(SsmError::Validation(format!(
                "The following data type is not supported: {data_type} (Data type names are all lowercase.)"
            )));
        }
        if kind != "SecureString" && input.key_id.is_some() {
            return Err(SsmError::Validation(
                "KeyId is required for SecureString type parameter only.".into(),
            ));
        }
        let chars = input.value.chars().count();
        let tier = match input.tier.as_deref() {
            Some("Advanced") => "Advanced",
            // Intelligent-Tiering picks Standard unless the value needs Advanced.
            Some("Intelligent-Tiering") if chars > STANDARD_VALUE_MAX => "Advanced",
            _ => current
                .as_ref()
                .filter(|c| c.tier == "Advanced")
                .map_or("Standard", |_| "Advanced"),
        };
        let max = if tier == "Advanced" {
            ADVANCED_VALUE_MAX
        } else {
            STANDARD_VALUE_MAX
        };
        if chars > max {
            return Err(SsmError::Validation(if tier == "Advanced" {
                format!(
                    "Advanced tier parameters support a maximum parameter value of {max} characters."
                )
            } else {
                format!(
                    "Standard tier parameters support a maximum parameter value of {max} characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
                )
            }));
        }
        if let Some(pattern) = &input.allowed_pattern {
            let re = Regex::new(&format!("^(?:{pattern})$")).map_err(|_| {
                SsmError::InvalidAllowedPattern(format!(
                    "The allowed pattern {pattern} is not a valid regular expression."
                ))
            })?;
            if !re.is_match(&input.value) {
                return Err(SsmError::ParameterPatternMismatch(format!(
                    "Parameter value, cannot be validated against allowedPattern: {pattern}"
                )));
            }
        }
        let stored = StoredParameter {
            name: input.name.clone(),
            kind,
            value: input.value,
            data_type,
            tier: tier.to_string(),
            last_modified_date: seconds(self.clock.now()),
            description: input
                .description
                .or_else(|| current.as_ref().and_then(|c| c.description.clone())),
            allowed_pattern: input.allowed_pattern,
            key_id: input.key_id,
            policies: input.policies,
            tags: if tags.is_empty() {
                current.map(|c| c.tags).unwrap_or_default()
            } else {
                tags
            },
            last_modified_user: input.modified_by,
        };
        let document = serde_json::to_string(&stored).expect("serializable");
        let version = self
            .store
            .put_parameter(&stored.name, &document, overwrite, MAX_VERSIONS)
            .await?;
        Ok((version, stored))
    }

    /// A stored version by `name` or `name:version`; `None` when absent.
    pub async fn read(&self, selector: &str) -> Result<Option<(i64, StoredParameter)>> {
        let (name, sel) = split_selector(selector);
        let version = match sel {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(v) => Some(v),
                // Labels are not supported: no label ever matches.
                Err(_) => return Ok(None),
            },
        };
        match self.store.get_parameter(name, version).await? {
            Some(r) => Ok(Some((r.version, parse(&r)?))),
            None => Ok(None),
        }
    }

    fn output(
        scope: &Scope,
        version: i64,
        p: &StoredParameter,
        selector: Option<&str>,
        decrypt: bool,
    ) -> Value {
        let value = if p.kind == "SecureString" && !decrypt {
            sealed(&p.value)
        } else {
            p.value.clone()
        };
        let mut out = json!({
            "Name": p.name,
            "Type": p.kind,
            "Value": value,
            "Version": version,
            "LastModifiedDate": p.last_modified_date,
            "ARN": parameter_arn(scope, &p.name),
            "DataType": p.data_type,
        });
        if let Some(s) = selector {
            out["Selector"] = format!(":{s}").into();
        }
        out
    }

    /// `GetParameter`'s `Parameter`.
    pub async fn get(&self, scope: &Scope, selector: &str, decrypt: bool) -> Result<Value> {
        let (name, sel) = split_selector(selector);
        if !NAME_CHARS.is_match(name) {
            return Err(SsmError::Validation(NAME_RULES.into()));
        }
        match self.read(selector).await? {
            Some((version, p)) => Ok(Self::output(scope, version, &p, sel, decrypt)),
            None => match sel.and_then(|s| s.parse::<i64>().ok()) {
                Some(v) if self.store.get_parameter(name, None).await?.is_some() => {
                    Err(SsmError::ParameterVersionNotFound(format!(
                        "Systems Manager could not find version {v} of {name}. Verify the version and try again."
                    )))
                }
                _ => Err(SsmError::ParameterNotFound),
            },
        }
    }

    pub(crate) async fn get_parameters(
        &self,
        scope: &Scope,
        input: GetParametersInput,
    ) -> Result<Value> {
        let decrypt = input.with_decryption.unwrap_or(false);
        let mut found = Vec::new();
        let mut invalid: Vec<String> = Vec::new();
        for selector in &input.names {
            if found.iter().any(|(s, _): &(String, Value)| s == selector)
                || invalid.contains(selector)
            {
                continue;
            }
            let (_, sel) = split_selector(selector);
            match self.read(selector).await? {
                Some((version, p)) => found.push((
                    selector.clone(),
                    Self::output(scope, version, &p, sel, decrypt),
                )),
                None => invalid.push(selector.clone()),
            }
        }
        let params: Vec<Value> = found.into_iter().map(|(_, v)| v).collect();
        Ok(json!({"Parameters": params, "InvalidParameters": invalid}))
    }

    pub(crate) async fn by_path(
        &self,
        scope: &Scope,
        input: GetParametersByPathInput,
    ) -> Result<Value> {
        let under_root = input.path.trim_start_matches('/').to_ascii_lowercase();
        if !input.path.starts_with('/')
            || !NAME_CHARS.is_match(&input.path)
            || under_root.starts_with("aws")
            || under_root.starts_with("ssm")
        {
            return Err(SsmError::Validation(PATH_RULES.into()));
        }
        let filters = Filters::parse(
            input.parameter_filters.as_deref().unwrap_or_default(),
            Api::GetParametersByPath,
        )?;
        let prefix = if input.path == "/" {
            "/".to_string()
        } else {
            format!("{}/", input.path.trim_end_matches('/'))
        };
        let recursive = input.recursive.unwrap_or(false);
        let decrypt = input.with_decryption.unwrap_or(false);
        let limit = input.max_results.map_or(DEFAULT_PAGE, |n| n as usize);
        let mut after = match input.next_token.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => Some(decode_token(t).ok_or_else(|| {
                SsmError::InvalidNextToken("The specified token is not valid.".into())
            })?),
            None => None,
        };
        let mut page: Vec<(String, Value)> = Vec::new();
        let mut more = false;
        'scan: loop {
            let batch = self
                .store
                .list_parameters(&prefix, after.as_deref(), 100)
                .await?;
            let exhausted = batch.len() < 100;
            for record in &batch {
                after = Some(record.name.clone());
                if !recursive && record.name[prefix.len()..].contains('/') {
                    continue;
                }
                let p = parse(record)?;
                if !filters.matches(&p) {
                    continue;
                }
                if page.len() == limit {
                    more = true;
                    break 'scan;
                }
                page.push((
                    record.name.clone(),
                    Self::output(scope, record.version, &p, None, decrypt),
                ));
            }
            if exhausted {
                break;
            }
        }
        Ok(parameters_page(page, more))
    }

    /// Deletes every version of `name`.
    pub async fn delete(&self, name: &str) -> Result<()> {
        if self.store.delete_parameter(name).await? {
            Ok(())
        } else {
            Err(SsmError::ParameterNotFound)
        }
    }
}
