//! Parameter declarations, their types and constraints, and binding values to them.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde_json::Value;

use crate::env::Environment;
use crate::error::{ErrorCode, Errors, TemplateError};
use crate::tree::{Kind, Node, Pos};

/// The value a `Ref` to a parameter returns: a string, or a list for list types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    String(String),
    List(Vec<String>),
}

impl ParamValue {
    pub fn to_json(&self) -> Value {
        match self {
            ParamValue::String(s) => Value::String(s.clone()),
            ParamValue::List(l) => Value::Array(l.iter().cloned().map(Value::String).collect()),
        }
    }
}

/// AWS-specific parameter types (also valid inside `List<...>` except where noted).
const AWS_TYPES: &[&str] = &[
    "AWS::EC2::AvailabilityZone::Name",
    "AWS::EC2::Image::Id",
    "AWS::EC2::Instance::Id",
    "AWS::EC2::KeyPair::KeyName",
    "AWS::EC2::SecurityGroup::GroupName",
    "AWS::EC2::SecurityGroup::Id",
    "AWS::EC2::Subnet::Id",
    "AWS::EC2::Volume::Id",
    "AWS::EC2::VPC::Id",
    "AWS::Route53::HostedZone::Id",
];

/// How a parameter type reads its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamKind {
    String,
    Number,
    NumberList,
    CommaDelimitedList,
    /// An AWS-specific type; `list` for `List<...>`.
    Aws {
        list: bool,
    },
    SsmParameterName,
    /// `AWS::SSM::Parameter::Value<...>`: the value is an SSM parameter name, resolved
    /// through [`Environment::ssm_parameter`]; `list` when the inner type is a list.
    SsmValue {
        list: bool,
    },
}

/// Classifies a parameter type, `None` when CloudFormation does not know it.
pub fn classify_type(t: &str) -> Option<ParamKind> {
    Some(match t {
        "String" => ParamKind::String,
        "Number" => ParamKind::Number,
        "List<Number>" => ParamKind::NumberList,
        "CommaDelimitedList" => ParamKind::CommaDelimitedList,
        "AWS::SSM::Parameter::Name" => ParamKind::SsmParameterName,
        _ if AWS_TYPES.contains(&t) => ParamKind::Aws { list: false },
        _ if list_of(t)
            .is_some_and(|i| AWS_TYPES.contains(&i) && i != "AWS::EC2::KeyPair::KeyName") =>
        {
            ParamKind::Aws { list: true }
        }
        _ => {
            let inner = t
                .strip_prefix("AWS::SSM::Parameter::Value<")?
                .strip_suffix('>')?;
            let list = match inner {
                "String" => false,
                "List<String>" | "CommaDelimitedList" => true,
                _ => match classify_type(inner)? {
                    ParamKind::Aws { list } => list,
                    _ => return None,
                },
            };
            ParamKind::SsmValue { list }
        }
    })
}

/// One declared parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterDecl {
    pub name: String,
    pub pos: Pos,
    pub param_type: String,
    pub kind: ParamKind,
    pub default: Option<String>,
    pub allowed_values: Option<Vec<String>>,
    pub allowed_pattern: Option<String>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub constraint_description: Option<String>,
    pub no_echo: bool,
    pub description: Option<String>,
}

const PARAM_PROPERTIES: &[&str] = &[
    "Type",
    "Default",
    "AllowedValues",
    "AllowedPattern",
    "ConstraintDescription",
    "Description",
    "MaxLength",
    "MaxValue",
    "MinLength",
    "MinValue",
    "NoEcho",
];

/// Reads the `Parameters` section, reporting malformed declarations into `errors`.
pub fn declarations(section: Option<&Node>, errors: &mut Errors) -> Vec<ParameterDecl> {
    let Some(section) = section else {
        return Vec::new();
    };
    let Some(map) = section.as_map() else {
        errors.push(TemplateError::at(
            ErrorCode::Section,
            "Template format error: Parameters must be an object",
            section.pos,
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, entry) in map {
        let node = &entry.value;
        let Some(m) = node.as_map() else {
            errors.push(TemplateError::at(
                ErrorCode::Parameter,
                format!("Template format error: Parameter '{name}' must be an object"),
                entry.key_pos,
            ));
            continue;
        };
        for (k, e) in m {
            if !PARAM_PROPERTIES.contains(&k.as_str()) {
                errors.push(TemplateError::at(
                    ErrorCode::Parameter,
                    format!("Invalid template parameter property '{k}'"),
                    e.key_pos,
                ));
            }
        }
        let Some(type_node) = node.get("Type") else {
            errors.push(TemplateError::at(
                ErrorCode::Parameter,
                "Template format error: Every Parameters object must contain a Type member.",
                entry.key_pos,
            ));
            continue;
        };
        let param_type = type_node.scalar_text().unwrap_or_default();
        let Some(kind) = classify_type(&param_type) else {
            errors.push(TemplateError::at(
                ErrorCode::Parameter,
                format!("Template format error: Unrecognized parameter type: {param_type}"),
                type_node.pos,
            ));
            continue;
        };
        let text = |k: &str| node.get(k).and_then(scalar_or_joined);
        let num = |k: &str, errors: &mut Errors| -> Option<f64> {
            let n = node.get(k)?;
            match n.scalar_text().and_then(|t| t.trim().parse::<f64>().ok()) {
                Some(v) => Some(v),
                None => {
                    errors.push(TemplateError::at(
                        ErrorCode::Parameter,
                        format!("Template format error: Parameter '{name}' {k} must be a number"),
                        n.pos,
                    ));
                    None
                }
            }
        };
        let allowed_values = match node.get("AllowedValues") {
            None => None,
            Some(n) => {
                match n.as_list() {
                    Some(l) => Some(l.iter().filter_map(Node::scalar_text).collect()),
                    None => {
                        errors.push(TemplateError::at(
                        ErrorCode::Parameter,
                        format!("Template format error: Parameter '{name}' AllowedValues must be a list"),
                        n.pos,
                    ));
                        None
                    }
                }
            }
        };
        let no_echo = match node.get("NoEcho").map(|n| &n.kind) {
            Some(Kind::Bool(b)) => *b,
            Some(Kind::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        out.push(ParameterDecl {
            name: name.clone(),
            pos: entry.key_pos,
            param_type,
            kind,
            default: text("Default"),
            allowed_values,
            allowed_pattern: text("AllowedPattern"),
            min_length: num("MinLength", errors).map(|v| v as u64),
            max_length: num("MaxLength", errors).map(|v| v as u64),
            min_value: num("MinValue", errors),
            max_value: num("MaxValue", errors),
            constraint_description: text("ConstraintDescription"),
            no_echo,
            description: text("Description"),
        });
    }
    out
}

/// A scalar as text, or a list of scalars joined with commas (a list `Default` for a
/// list-typed parameter).
fn scalar_or_joined(n: &Node) -> Option<String> {
    match &n.kind {
        Kind::List(l) => Some(
            l.iter()
                .filter_map(Node::scalar_text)
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => n.scalar_text(),
    }
}

/// Parameters bound to values.
#[derive(Debug, Clone, Default)]
pub struct BoundParameters {
    /// What `Ref` returns, per parameter, in declaration order.
    pub values: IndexMap<String, ParamValue>,
    /// Values as shown to users (`NoEcho` masked as `****`; SSM types show the name).
    pub displayed: BTreeMap<String, String>,
    /// What each `AWS::SSM::Parameter::Value<...>` parameter resolved to (a list joined
    /// with commas): `DescribeStacks`' `ResolvedValue`.
    pub resolved: BTreeMap<String, String>,
    /// Parameter types, per parameter (for `Fn::RefAll`).
    pub types: IndexMap<String, String>,
}

/// The mask shown instead of a `NoEcho` parameter's value.
pub const NO_ECHO_MASK: &str = "****";

/// Binds `given` values (or defaults) to the declarations and checks every constraint.
pub fn bind(
    decls: &[ParameterDecl],
    given: &BTreeMap<String, String>,
    env: &dyn Environment,
) -> Result<BoundParameters, Errors> {
    let mut errors = Errors::new();
    let undeclared: Vec<&str> = given
        .keys()
        .filter(|k| !decls.iter().any(|d| &d.name == *k))
        .map(String::as_str)
        .collect();
    if !undeclared.is_empty() {
        errors.push(TemplateError::new(
            ErrorCode::Parameter,
            format!(
                "Parameters: [{}] do not exist in the template",
                undeclared.join(", ")
            ),
            None,
        ));
    }
    let mut out = BoundParameters::default();
    let mut missing = Vec::new();
    for d in decls {
        out.types.insert(d.name.clone(), d.param_type.clone());
        let Some(raw) = given.get(&d.name).cloned().or_else(|| d.default.clone()) else {
            missing.push(d.name.as_str());
            continue;
        };
        if let Err(e) = check_constraints(d, &raw) {
            errors.push(e);
            continue;
        }
        let value = match d.kind {
            ParamKind::String
            | ParamKind::Number
            | ParamKind::Aws { list: false }
            | ParamKind::SsmParameterName => ParamValue::String(raw.clone()),
            ParamKind::NumberList
            | ParamKind::CommaDelimitedList
            | ParamKind::Aws { list: true } => ParamValue::List(split_list(&raw)),
            ParamKind::SsmValue { list } => match env.ssm_parameter(&raw) {
                Some(v) => {
                    let shown = if d.no_echo {
                        NO_ECHO_MASK.to_string()
                    } else {
                        v.clone()
                    };
                    out.resolved.insert(d.name.clone(), shown);
                    if list {
                        ParamValue::List(split_list(&v))
                    } else {
                        ParamValue::String(v)
                    }
                }
                None => {
                    errors.push(TemplateError::at(
                        ErrorCode::Parameter,
                        format!("Unable to fetch parameters [{raw}] from parameter store for this account."),
                        d.pos,
                    ));
                    continue;
                }
            },
        };
        out.displayed.insert(
            d.name.clone(),
            if d.no_echo {
                NO_ECHO_MASK.to_string()
            } else {
                raw
            },
        );
        out.values.insert(d.name.clone(), value);
    }
    if !missing.is_empty() {
        errors.insert(
            0,
            TemplateError::new(
                ErrorCode::Parameter,
                format!("Parameters: [{}] must have values", missing.join(", ")),
                None,
            ),
        );
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Splits a comma-delimited value, trimming each member; the empty string is an empty list.
pub fn split_list(raw: &str) -> Vec<String> {
    if raw.is_empty() {
        return Vec::new();
    }
    raw.split(',').map(|s| s.trim().to_string()).collect()
}

/// Checks one value against its declaration, with CloudFormation's messages. A
/// `ConstraintDescription` replaces the reason of any constraint failure.
pub fn check_constraints(d: &ParameterDecl, raw: &str) -> Result<(), TemplateError> {
    let name = &d.name;
    let fail = |reason: String| {
        let message = match &d.constraint_description {
            Some(c) => format!("Parameter '{name}' failed to satisfy constraint: {c}"),
            None => reason,
        };
        TemplateError::at(ErrorCode::Parameter, message, d.pos)
    };
    let members: Vec<String> = match d.kind {
        ParamKind::NumberList | ParamKind::CommaDelimitedList | ParamKind::Aws { list: true } => {
            split_list(raw)
        }
        _ => vec![raw.to_string()],
    };
    let numeric = matches!(d.kind, ParamKind::Number | ParamKind::NumberList);
    for m in &members {
        if numeric && m.trim().parse::<f64>().is_err() {
            return Err(TemplateError::at(
                ErrorCode::Parameter,
                format!("Parameter '{name}' must be a number"),
                d.pos,
            ));
        }
    }
    if let Some(allowed) = &d.allowed_values {
        for m in &members {
            let ok = allowed.iter().any(|a| {
                a == m
                    || (numeric
                        && matches!((a.parse::<f64>(), m.parse::<f64>()), (Ok(x), Ok(y)) if x == y))
            });
            if !ok {
                return Err(fail(format!(
                    "Parameter '{name}' must be one of AllowedValues"
                )));
            }
        }
    }
    if let Some(p) = &d.allowed_pattern
        && !matches!(d.kind, ParamKind::Number | ParamKind::NumberList)
        && let Some(re) = allowed_pattern_regex(p)
    {
        // Patterns use Java regex syntax; the few constructs the `regex` crate lacks
        // (look-around, back-references) cannot be checked and are accepted.
        for m in &members {
            if !re.is_match(m) {
                return Err(fail(format!("Parameter '{name}' must match pattern {p}")));
            }
        }
    }
    for m in &members {
        let len = m.chars().count() as u64;
        if let Some(min) = d.min_length
            && len < min
        {
            return Err(fail(format!(
                "Parameter '{name}' must contain at least {min} characters"
            )));
        }
        if let Some(max) = d.max_length
            && len > max
        {
            return Err(fail(format!(
                "Parameter '{name}' must contain at most {max} characters"
            )));
        }
        if numeric && let Ok(v) = m.trim().parse::<f64>() {
            if let Some(min) = d.min_value
                && v < min
            {
                return Err(fail(format!(
                    "Parameter '{name}' must be a number not less than {}",
                    fmt_num(min)
                )));
            }
            if let Some(max) = d.max_value
                && v > max
            {
                return Err(fail(format!(
                    "Parameter '{name}' must be a number not greater than {}",
                    fmt_num(max)
                )));
            }
        }
    }
    Ok(())
}

/// Compiles an `AllowedPattern`, anchored (CloudFormation matches the whole value).
/// Patterns are Java regular expressions, where `\d`, `\w` and `\s` are ASCII: compiling
/// without Unicode matches that and keeps bounded repetitions (`[a-z0-9]{1,256}`) cheap to
/// build. Patterns that need Unicode mode (e.g. `.` on a `str`) fall back to it; the few
/// Java constructs the `regex` crate lacks (look-around, back-references) give `None` and
/// are not checked.
pub fn allowed_pattern_regex(p: &str) -> Option<regex::Regex> {
    let anchored = format!("^(?:{p})$");
    regex::RegexBuilder::new(&anchored)
        .unicode(false)
        .build()
        .or_else(|_| regex::Regex::new(&anchored))
        .ok()
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        v.to_string()
    }
}

fn list_of(t: &str) -> Option<&str> {
    t.strip_prefix("List<").and_then(|r| r.strip_suffix('>'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::StaticEnvironment;
    use crate::parse::{Limits, parse_tree};

    fn decls(yaml: &str) -> Vec<ParameterDecl> {
        let (n, _) = parse_tree(yaml, &Limits::default()).unwrap();
        let mut errors = Errors::new();
        let d = declarations(Some(&n), &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        d
    }

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn classifies_types() {
        assert_eq!(
            classify_type("List<AWS::EC2::Subnet::Id>"),
            Some(ParamKind::Aws { list: true })
        );
        assert_eq!(
            classify_type("AWS::SSM::Parameter::Value<List<AWS::EC2::VPC::Id>>"),
            Some(ParamKind::SsmValue { list: true })
        );
        assert_eq!(
            classify_type("AWS::SSM::Parameter::Value<String>"),
            Some(ParamKind::SsmValue { list: false })
        );
        assert_eq!(classify_type("List<String>"), None);
        assert_eq!(classify_type("Strin"), None);
    }

    #[test]
    fn missing_values_are_listed_together() {
        let d = decls("A: {Type: String}\nB: {Type: Number}\nC: {Type: String, Default: x}\n");
        let e = bind(&d, &BTreeMap::new(), &StaticEnvironment::default()).unwrap_err();
        assert_eq!(e[0].message, "Parameters: [A, B] must have values");
    }

    #[test]
    fn constraints_use_cloudformation_messages() {
        let d = decls(concat!(
            "S: {Type: String, MinLength: 2, MaxLength: 3, AllowedPattern: '[a-z]+'}\n",
            "N: {Type: Number, MinValue: 1, MaxValue: 10}\n",
            "A: {Type: String, AllowedValues: [x, y]}\n",
            "C: {Type: String, AllowedPattern: '[0-9]+', ConstraintDescription: digits only}\n",
        ));
        let env = StaticEnvironment::default();
        let ok = given(&[("S", "ab"), ("N", "5"), ("A", "x"), ("C", "12")]);
        assert!(bind(&d, &ok, &env).is_ok());
        for (k, v, msg) in [
            ("S", "a", "Parameter 'S' must contain at least 2 characters"),
            (
                "S",
                "abcd",
                "Parameter 'S' must contain at most 3 characters",
            ),
            ("S", "AB", "Parameter 'S' must match pattern [a-z]+"),
            ("N", "x", "Parameter 'N' must be a number"),
            ("N", "0", "Parameter 'N' must be a number not less than 1"),
            (
                "N",
                "11",
                "Parameter 'N' must be a number not greater than 10",
            ),
            ("A", "z", "Parameter 'A' must be one of AllowedValues"),
            (
                "C",
                "x",
                "Parameter 'C' failed to satisfy constraint: digits only",
            ),
        ] {
            let mut g = ok.clone();
            g.insert(k.into(), v.into());
            let e = bind(&d, &g, &env).unwrap_err();
            assert_eq!(e[0].message, msg);
        }
    }

    #[test]
    fn lists_no_echo_and_ssm() {
        let d = decls(concat!(
            "L: {Type: CommaDelimitedList}\n",
            "P: {Type: String, NoEcho: true}\n",
            "S: {Type: 'AWS::SSM::Parameter::Value<String>'}\n",
            "U: {Type: 'AWS::SSM::Parameter::Value<String>', Default: /missing}\n",
        ));
        let mut env = StaticEnvironment::default();
        env.ssm.insert("/ami".into(), "ami-123".into());
        let g = given(&[
            ("L", "a, b,c"),
            ("P", "secret"),
            ("S", "/ami"),
            ("U", "/ami"),
        ]);
        let b = bind(&d, &g, &env).unwrap();
        assert_eq!(
            b.values["L"],
            ParamValue::List(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(b.values["S"], ParamValue::String("ami-123".into()));
        assert_eq!(b.displayed["P"], NO_ECHO_MASK);
        assert_eq!(b.displayed["S"], "/ami");
        assert_eq!(
            b.resolved,
            BTreeMap::from([
                ("S".into(), "ami-123".into()),
                ("U".into(), "ami-123".into())
            ])
        );
        let e = bind(&d, &given(&[("L", ""), ("P", "x"), ("S", "/ami")]), &env).unwrap_err();
        assert_eq!(
            e[0].message,
            "Unable to fetch parameters [/missing] from parameter store for this account."
        );
        let e = bind(
            &d,
            &given(&[
                ("L", ""),
                ("P", "x"),
                ("S", "/ami"),
                ("U", "/ami"),
                ("Z", "1"),
            ]),
            &env,
        )
        .unwrap_err();
        assert_eq!(e[0].message, "Parameters: [Z] do not exist in the template");
    }
}
