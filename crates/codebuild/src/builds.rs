//! Builds: recorded, never run.
//!
//! sagestack keeps build projects and records each build honestly: a build is stored
//! complete at once, `SUCCEEDED`, its phases `SUBMITTED` to `FINALIZING` succeeded in no
//! time and then `COMPLETED`, each phase that would have run something carrying a
//! context that says it was not executed ([`NOT_EXECUTED`]). No container starts, no
//! source is fetched, no artifact or log is written.
//!
//! Each build is one document (the `Build` shape BatchGetBuilds answers), kind
//! [`CatalogKind::Build`], keyed by its id `{project}:{uuid}`. Its `buildNumber` is one
//! more than the project's highest. Who started it is its [`Initiator`].

use std::sync::Arc;

use sagestack_store::{CatalogKind, CatalogRecord, StoreError};
use serde_json::{Map, Value, json};

use crate::error::BuildError;
use crate::projects::{Builds, Result, seconds};

/// What every phase that would have run something says.
pub const NOT_EXECUTED: &str = "sagestack records builds; the build was not executed";

/// A build: the `Build` shape, as BatchGetBuilds answers it.
pub type Build = Map<String, Value>;

/// The phases of a build, in order (`COMPLETED` follows, without a status).
const PHASES: [&str; 10] = [
    "SUBMITTED",
    "QUEUED",
    "PROVISIONING",
    "DOWNLOAD_SOURCE",
    "INSTALL",
    "PRE_BUILD",
    "BUILD",
    "POST_BUILD",
    "UPLOAD_ARTIFACTS",
    "FINALIZING",
];

/// Phases that only wait (no context).
const WAITING: [&str; 2] = ["SUBMITTED", "QUEUED"];

/// Who started a build: the `initiator` text CodeBuild records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Initiator {
    /// A StartBuild call by the principal of this ARN: its user name (`alice`), its
    /// role and session (`Role/session`), or `root`.
    Caller(String),
    /// An EventBridge rule (its ARN): recorded `rule/{rule name}`.
    Rule(String),
    /// A CodePipeline action of this pipeline: `codepipeline/{pipeline}`.
    Pipeline(String),
}

impl Initiator {
    /// The recorded text (see each variant).
    pub fn text(&self) -> String {
        match self {
            Initiator::Caller(arn) => {
                let resource = arn.splitn(6, ':').nth(5).unwrap_or(arn);
                if let Some(rest) = resource.strip_prefix("assumed-role/") {
                    rest.to_string()
                } else if let Some(user) = resource.strip_prefix("user/") {
                    user.rsplit('/').next().unwrap_or(user).to_string()
                } else {
                    resource.to_string()
                }
            }
            Initiator::Rule(arn) => {
                let name = arn.split_once(":rule/").map_or(arn.as_str(), |(_, n)| n);
                format!("rule/{}", name.rsplit('/').next().unwrap_or(name))
            }
            Initiator::Pipeline(name) => format!("codepipeline/{name}"),
        }
    }
}

fn parse(record: &CatalogRecord) -> Result<Build> {
    serde_json::from_str(&record.document)
        .map_err(|e| BuildError::Internal(format!("stored build is unreadable: {e}")))
}

fn phases(at: f64) -> Value {
    let mut out: Vec<Value> = PHASES
        .iter()
        .map(|phase| {
            let mut p = json!({
                "phaseType": phase,
                "phaseStatus": "SUCCEEDED",
                "startTime": at,
                "endTime": at,
                "durationInSeconds": 0,
            });
            if !WAITING.contains(phase) {
                p["contexts"] = json!([{"statusCode": "NOT_EXECUTED", "message": NOT_EXECUTED}]);
            }
            p
        })
        .collect();
    out.push(json!({"phaseType": "COMPLETED", "startTime": at}));
    Value::Array(out)
}

/// The project's environment with StartBuild's overrides applied (variables replace
/// those of the same name).
fn environment(project: &Map<String, Value>, o: &Map<String, Value>) -> Value {
    let mut env = project.get("environment").cloned().unwrap_or(json!({}));
    for (from, to) in [
        ("imageOverride", "image"),
        ("computeTypeOverride", "computeType"),
        ("environmentTypeOverride", "type"),
        ("privilegedModeOverride", "privilegedMode"),
        ("certificateOverride", "certificate"),
    ] {
        if let Some(v) = o.get(from) {
            env[to] = v.clone();
        }
    }
    if let Some(given) = o
        .get("environmentVariablesOverride")
        .and_then(Value::as_array)
    {
        let mut vars: Vec<Value> = env["environmentVariables"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for v in given {
            vars.retain(|old| old["name"] != v["name"]);
            vars.push(v.clone());
        }
        env["environmentVariables"] = Value::Array(vars);
    }
    env
}

impl Builds {
    /// Records a build of `project` started by `initiator` (complete at once; see the
    /// module documentation) and returns its id: what the EventBridge target transport
    /// calls. `ProjectNotFound` if there is no such project.
    pub async fn start_build(&self, project: &str, initiator: Initiator) -> Result<String> {
        let build = self.start(project, initiator, &Map::new()).await?;
        Ok(build["id"].as_str().unwrap_or_default().to_string())
    }

    /// [`Self::start_build`] with StartBuild's overrides (`o`, validated by the model):
    /// the build records them. An `idempotencyToken` already used for this project
    /// answers the build it started.
    pub async fn start(
        &self,
        project_name: &str,
        initiator: Initiator,
        o: &Map<String, Value>,
    ) -> Result<Build> {
        let project = self
            .project(project_name)
            .await?
            .ok_or_else(|| self.not_found(project_name))?;
        let earlier = self.builds_of(project_name).await?;
        let token = o.get("idempotencyToken");
        if let Some(b) = token.and_then(|t| {
            earlier
                .iter()
                .find(|b| b.get("idempotencyToken") == Some(t))
        }) {
            return Ok(b.clone());
        }
        let number = earlier
            .iter()
            .filter_map(|b| b["buildNumber"].as_i64())
            .max()
            .unwrap_or(0)
            + 1;
        let now = self.clock.now();
        let at = seconds(now);
        let id = format!("{project_name}:{}", uuid::Uuid::new_v4());
        let pick = |over: &str, kept: &str| o.get(over).or_else(|| project.get(kept)).cloned();
        let mut source = project.get("source").cloned().unwrap_or(json!({}));
        for (from, to) in [
            ("sourceTypeOverride", "type"),
            ("sourceLocationOverride", "location"),
            ("buildspecOverride", "buildspec"),
        ] {
            if let Some(v) = o.get(from) {
                source[to] = v.clone();
            }
        }
        let mut build = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                build.insert(k.to_string(), v);
            }
        };
        put("id", Some(id.clone().into()));
        put("arn", Some(self.scope().build_arn(&id).into()));
        put("buildNumber", Some(number.into()));
        put("startTime", Some(at.into()));
        put("endTime", Some(at.into()));
        put("currentPhase", Some("COMPLETED".into()));
        put("buildStatus", Some("SUCCEEDED".into()));
        put("sourceVersion", pick("sourceVersion", "sourceVersion"));
        put("projectName", Some(project_name.into()));
        put("phases", Some(phases(at)));
        put("source", Some(source));
        put("secondarySources", project.get("secondarySources").cloned());
        put("artifacts", Some(json!({"location": ""})));
        put("cache", project.get("cache").cloned());
        put("environment", Some(environment(&project, o)));
        put("serviceRole", pick("serviceRoleOverride", "serviceRole"));
        put(
            "logs",
            Some(
                json!({"deepLink": "", "cloudWatchLogs": project["logsConfig"]["cloudWatchLogs"]}),
            ),
        );
        put(
            "timeoutInMinutes",
            pick("timeoutInMinutesOverride", "timeoutInMinutes"),
        );
        put(
            "queuedTimeoutInMinutes",
            pick("queuedTimeoutInMinutesOverride", "queuedTimeoutInMinutes"),
        );
        put("buildComplete", Some(true.into()));
        put("initiator", Some(initiator.text().into()));
        put(
            "encryptionKey",
            pick("encryptionKeyOverride", "encryptionKey"),
        );
        put("idempotencyToken", token.cloned());
        let document =
            serde_json::to_string(&build).map_err(|e| BuildError::Internal(e.to_string()))?;
        let record = CatalogRecord {
            id,
            name: None,
            version: 1,
            created_micros: now.saturating_mul(1000),
            document: Arc::from(document),
        };
        match self.store.catalog_insert(CatalogKind::Build, &record).await {
            Ok(()) => Ok(build),
            Err(StoreError::AlreadyExists) => {
                Err(BuildError::Internal("build id drawn twice".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The build `id`, if recorded.
    pub async fn build(&self, id: &str) -> Result<Option<Build>> {
        match self.store.catalog_get(CatalogKind::Build, id).await? {
            Some(r) => Ok(Some(parse(&r)?)),
            None => Ok(None),
        }
    }

    /// Every recorded build, newest first.
    pub async fn all_builds(&self) -> Result<Vec<Build>> {
        let records = sagestack_store::catalog_all(&*self.store, CatalogKind::Build).await?;
        let mut all = records
            .iter()
            .map(|r| Ok((r.created_micros, parse(r)?)))
            .collect::<Result<Vec<_>>>()?;
        // Newest first; builds recorded in the same microsecond (a fast clock, a fake one)
        // by their project's build number rather than by their random ids.
        all.sort_by_key(|(at, b)| std::cmp::Reverse((*at, b["buildNumber"].as_i64())));
        Ok(all.into_iter().map(|(_, b)| b).collect())
    }

    /// The recorded builds of `project`, newest (highest number) first.
    pub async fn builds_of(&self, project: &str) -> Result<Vec<Build>> {
        let mut out: Vec<Build> = self
            .all_builds()
            .await?
            .into_iter()
            .filter(|b| b["projectName"].as_str() == Some(project))
            .collect();
        out.sort_by_key(|b| std::cmp::Reverse(b["buildNumber"].as_i64()));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initiators_read_as_codebuild_records_them() {
        let cases = [
            (
                Initiator::Caller("arn:aws:iam::123456789012:user/team/alice".into()),
                "alice",
            ),
            (
                Initiator::Caller("arn:aws:iam::123456789012:root".into()),
                "root",
            ),
            (
                Initiator::Caller("arn:aws:sts::123456789012:assumed-role/Deployer/s1".into()),
                "Deployer/s1",
            ),
            (
                Initiator::Rule("arn:aws:events:us-east-1:123456789012:rule/approved".into()),
                "rule/approved",
            ),
            (
                Initiator::Rule("arn:aws:events:us-east-1:123456789012:rule/bus/approved".into()),
                "rule/approved",
            ),
            (Initiator::Pipeline("deploy".into()), "codepipeline/deploy"),
        ];
        for (i, text) in cases {
            assert_eq!(i.text(), text, "{i:?}");
        }
    }

    #[test]
    fn phases_complete_and_say_they_did_not_run() {
        let p = phases(1.5);
        let p = p.as_array().unwrap();
        assert_eq!(p.len(), 11);
        assert_eq!(p[0]["phaseType"], "SUBMITTED");
        assert!(p[0].get("contexts").is_none());
        assert_eq!(p[6]["phaseType"], "BUILD");
        assert_eq!(p[6]["phaseStatus"], "SUCCEEDED");
        assert_eq!(p[6]["contexts"][0]["message"], NOT_EXECUTED);
        assert_eq!(p[10], json!({"phaseType": "COMPLETED", "startTime": 1.5}));
    }
}
