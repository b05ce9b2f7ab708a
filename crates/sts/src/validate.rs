//! AssumeRole's input constraints, from the botocore STS model, in AWS's wording.

use crate::StsError;

/// Shortest and longest temporary credentials, in seconds (the model's bounds).
pub const DURATION_RANGE: std::ops::RangeInclusive<i64> = 900..=43_200;
/// What a role allows when it says nothing (`MaxSessionDuration`'s default).
pub const DEFAULT_MAX_SESSION: i64 = 3600;
/// When `DurationSeconds` is absent.
pub const DEFAULT_DURATION: i64 = 3600;

fn constraint(value: &str, member: &str, what: &str) -> StsError {
    StsError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
         constraint: {what}"
    ))
}

/// `roleArn`: 20 to 2048 characters.
pub fn role_arn(arn: &str) -> Result<(), StsError> {
    match arn.chars().count() {
        n if n < 20 => Err(constraint(
            arn,
            "roleArn",
            "Member must have length greater than or equal to 20",
        )),
        n if n > 2048 => Err(constraint(
            arn,
            "roleArn",
            "Member must have length less than or equal to 2048",
        )),
        _ => Ok(()),
    }
}

/// `roleSessionName`: 2 to 64 of `[\w+=,.@-]`.
pub fn session_name(name: &str) -> Result<(), StsError> {
    let n = name.chars().count();
    if n < 2 {
        return Err(constraint(
            name,
            "roleSessionName",
            "Member must have length greater than or equal to 2",
        ));
    }
    if n > 64 {
        return Err(constraint(
            name,
            "roleSessionName",
            "Member must have length less than or equal to 64",
        ));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if !name.chars().all(ok) {
        return Err(constraint(
            name,
            "roleSessionName",
            "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
        ));
    }
    Ok(())
}

/// `durationSeconds`: 900 to 43200.
pub fn duration(seconds: i64) -> Result<(), StsError> {
    if seconds < *DURATION_RANGE.start() {
        return Err(constraint(
            &seconds.to_string(),
            "durationSeconds",
            "Member must have value greater than or equal to 900",
        ));
    }
    if seconds > *DURATION_RANGE.end() {
        return Err(constraint(
            &seconds.to_string(),
            "durationSeconds",
            "Member must have value less than or equal to 43200",
        ));
    }
    Ok(())
}

/// The account and role name of `arn:<partition>:iam::<account>:role/<path/>name`.
pub fn parse_role_arn(arn: &str) -> Result<(&str, &str), StsError> {
    let invalid = || StsError::Validation(format!("{arn} is not a valid role ARN"));
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_prefix, _partition, "iam", "", account, resource] = parts[..] else {
        return Err(invalid());
    };
    if arn_prefix != "arn" || account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let name = resource
        .strip_prefix("role/")
        .and_then(|r| r.rsplit('/').next())
        .filter(|n| !n.is_empty())
        .ok_or_else(invalid)?;
    Ok((account, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_use_aws_words() {
        assert!(role_arn("arn:aws:iam::1:role/x").is_ok());
        assert!(
            matches!(role_arn("short"), Err(StsError::Validation(m)) if m.contains("greater than or equal to 20"))
        );
        assert!(session_name("ok-name@x.y").is_ok());
        for bad in ["a", "has space", &"x".repeat(65)] {
            assert!(session_name(bad).is_err(), "{bad}");
        }
        assert!(duration(900).is_ok() && duration(43_200).is_ok());
        assert!(duration(899).is_err() && duration(43_201).is_err());
    }

    #[test]
    fn role_arns_name_an_account_and_a_role() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::123456789012:role/path/to/Deployer").unwrap(),
            ("123456789012", "Deployer")
        );
        for bad in [
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:s3:::bucket/role/x",
            "arn:aws:iam::12345:role/x",
            "arn:aws:iam::123456789012:role/",
        ] {
            assert!(parse_role_arn(bad).is_err(), "{bad}");
        }
    }
}
