//! A function's `LoggingConfig`: the defaults Lambda fills in (`Text`, the group
//! `/aws/lambda/<name>`, `INFO` levels under `JSON`) and the rule the model cannot
//! carry (log levels only with the `JSON` format). The log group is where the invoker
//! writes the function's log; the format and levels are recorded and answered (the
//! lines are written as text either way).

use crate::error::{LambdaError, Result};
use crate::model::{LoggingConfig, default_log_group};

const TEXT: &str = "Text";
const JSON: &str = "JSON";
const DEFAULT_LEVEL: &str = "INFO";

/// The configuration a function gets from `given` (CreateFunction's or
/// UpdateFunctionConfiguration's `LoggingConfig`, members absent there keep `current`'s
/// values, or the defaults when creating).
pub(crate) fn resolve(
    function_name: &str,
    current: Option<&LoggingConfig>,
    given: Option<&LoggingConfig>,
) -> Result<LoggingConfig> {
    let current = current.cloned().unwrap_or_default();
    let Some(given) = given else {
        return Ok(complete(function_name, current));
    };
    let format = given
        .log_format
        .clone()
        .or(current.log_format.clone())
        .unwrap_or_else(|| TEXT.into());
    if format == TEXT {
        if given.application_log_level.is_some() || given.system_log_level.is_some() {
            return Err(LambdaError::InvalidParameterValue(
                "LogLevel is not supported when LogFormat is set to \"Text\". Remove LogLevel from your request or change the LogFormat to \"Json\" and try again."
                    .into(),
            ));
        }
        return Ok(complete(
            function_name,
            LoggingConfig {
                log_format: Some(format),
                application_log_level: None,
                system_log_level: None,
                log_group: given.log_group.clone().or(current.log_group),
            },
        ));
    }
    Ok(complete(
        function_name,
        LoggingConfig {
            log_format: Some(format),
            application_log_level: given
                .application_log_level
                .clone()
                .or(current.application_log_level),
            system_log_level: given.system_log_level.clone().or(current.system_log_level),
            log_group: given.log_group.clone().or(current.log_group),
        },
    ))
}

/// Fills what Lambda fills: the format, the group, and under `JSON` both levels.
fn complete(function_name: &str, mut config: LoggingConfig) -> LoggingConfig {
    let format = config.log_format.get_or_insert_with(|| TEXT.into()).clone();
    if config.log_group.as_deref().is_none_or(str::is_empty) {
        config.log_group = Some(default_log_group(function_name));
    }
    if format == JSON {
        config
            .application_log_level
            .get_or_insert_with(|| DEFAULT_LEVEL.into());
        config
            .system_log_level
            .get_or_insert_with(|| DEFAULT_LEVEL.into());
    } else {
        config.application_log_level = None;
        config.system_log_level = None;
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(format: Option<&str>, app: Option<&str>, group: Option<&str>) -> LoggingConfig {
        LoggingConfig {
            log_format: format.map(str::to_string),
            application_log_level: app.map(str::to_string),
            system_log_level: None,
            log_group: group.map(str::to_string),
        }
    }

    #[test]
    fn defaults_are_text_to_the_functions_own_group() {
        let c = resolve("f", None, None).unwrap();
        assert_eq!(c.log_format.as_deref(), Some("Text"));
        assert_eq!(c.log_group.as_deref(), Some("/aws/lambda/f"));
        assert_eq!(c.application_log_level, None);
    }

    #[test]
    fn json_gets_info_levels_and_keeps_a_given_group() {
        let c = resolve("f", None, Some(&given(Some("JSON"), None, Some("/custom")))).unwrap();
        assert_eq!(c.application_log_level.as_deref(), Some("INFO"));
        assert_eq!(c.system_log_level.as_deref(), Some("INFO"));
        assert_eq!(c.log_group.as_deref(), Some("/custom"));
    }

    #[test]
    fn levels_with_text_are_refused() {
        let e = resolve("f", None, Some(&given(Some("Text"), Some("DEBUG"), None))).unwrap_err();
        assert!(
            matches!(e, LambdaError::InvalidParameterValue(m) if m.starts_with("LogLevel is not supported"))
        );
    }

    #[test]
    fn an_update_keeps_what_it_does_not_name_and_text_drops_levels() {
        let json = resolve(
            "f",
            None,
            Some(&given(Some("JSON"), Some("DEBUG"), Some("/g"))),
        )
        .unwrap();
        let kept = resolve("f", Some(&json), Some(&given(None, None, None))).unwrap();
        assert_eq!(kept, json);
        let text = resolve("f", Some(&json), Some(&given(Some("Text"), None, None))).unwrap();
        assert_eq!(text.application_log_level, None);
        assert_eq!(text.log_group.as_deref(), Some("/g"));
    }
}
