//! The resource providers backed by this server's own state, for the CloudFormation
//! service: a stack's `AWS::SSM::Parameter`, `AWS::SageMaker::ModelPackageGroup`,
//! `AWS::SageMaker::ModelPackage`,
//! `AWS::IAM::Role`, `AWS::S3::Bucket` and `AWS::S3::BucketPolicy` become real parameters,
//! groups, roles, buckets and bucket policies that the APIs read. Buckets always live in this server's own object store,
//! also when templates are read from an external S3 (`--s3-endpoint`).
//! `AWS::Logs::LogGroup` becomes a log group of the Logs state ([`log_group_provider`]),
//! `AWS::SageMaker::Project` a project that the provisioner provisions
//! ([`project_provider`]); `AWS::CodePipeline::Pipeline` and `AWS::CodeBuild::Project`
//! kept definitions whose runs are recorded ([`pipeline_providers`]).
//! Wiring only: each provider lives with its service.

use std::sync::Arc;

use sagestack_engine::ResourceProvider;
use sagestack_sagemaker::{ModelPackageGroupProvider, ModelPackageGroups};
use sagestack_ssm::{ParameterProvider, Parameters};
use sagestack_store::Store;

/// `(resource type, provider)` pairs to register with the CloudFormation service
/// (`ServiceConfig::with_native_provider`), over the same states the APIs serve.
/// `objects` is where buckets are kept; when it is another store than `store` (a
/// non-default account's stacks are in its own store, every bucket in the main one), the
/// bucket providers act as ones with effects outside the stacks' store
/// ([`sagestack_engine::provider::InOtherStore`]).
pub fn native_providers(
    store: Arc<dyn Store>,
    objects: Arc<dyn sagestack_store::ObjectStore>,
    groups: Arc<ModelPackageGroups>,
    parameters: Arc<Parameters>,
) -> Vec<(String, Arc<dyn ResourceProvider>)> {
    let objects_apart = !std::ptr::addr_eq(Arc::as_ptr(&store), Arc::as_ptr(&objects));
    let buckets = |provider: Arc<dyn ResourceProvider>| -> Arc<dyn ResourceProvider> {
        if objects_apart {
            Arc::new(sagestack_engine::provider::InOtherStore(provider))
        } else {
            provider
        }
    };
    vec![
        (
            sagestack_ssm::provider::TYPE_NAME.to_string(),
            Arc::new(ParameterProvider::new(parameters)) as Arc<dyn ResourceProvider>,
        ),
        (
            sagestack_sagemaker::model_package_group_provider::TYPE_NAME.to_string(),
            Arc::new(ModelPackageGroupProvider::new(groups.clone())),
        ),
        (
            sagestack_sagemaker::model_package_provider::TYPE_NAME.to_string(),
            Arc::new(sagestack_sagemaker::ModelPackageProvider::new(groups)),
        ),
        (
            sagestack_iam::TYPE_NAME.to_string(),
            Arc::new(sagestack_iam::RoleProvider::new(store)),
        ),
        (
            sagestack_s3::bucket_provider::TYPE_NAME.to_string(),
            buckets(Arc::new(
                sagestack_s3::bucket_provider::BucketProvider::new(objects.clone()),
            )),
        ),
        (
            sagestack_s3::bucket_policy_provider::TYPE_NAME.to_string(),
            buckets(Arc::new(
                sagestack_s3::bucket_policy_provider::BucketPolicyProvider::new(objects),
            )),
        ),
    ]
}

/// The `AWS::SageMaker::Project` provider over the projects' state: it tells the
/// provisioner (built later, on CloudFormation) about the projects it makes through
/// `changes`, whose receiving end the provisioner is given.
pub fn project_provider(
    projects: Arc<sagestack_sagemaker::Projects>,
    changes: sagestack_sagemaker::ProjectChanges,
) -> (String, Arc<dyn ResourceProvider>) {
    (
        sagestack_sagemaker::project_provider::TYPE_NAME.to_string(),
        Arc::new(sagestack_sagemaker::ProjectProvider::new(projects, changes)),
    )
}

/// The `AWS::Logs::LogGroup` provider over the Logs state, as a `(type, provider)` pair
/// for `ServiceConfig::with_native_provider` beside [`native_providers`].
pub fn log_group_provider(logs: Arc<sagestack_logs::Logs>) -> (String, Arc<dyn ResourceProvider>) {
    (
        sagestack_logs::provider::TYPE_NAME.to_string(),
        Arc::new(sagestack_logs::LogGroupProvider::new(logs)),
    )
}

/// The `AWS::CodePipeline::Pipeline` and `AWS::CodeBuild::Project` providers over their
/// states: a stack's pipelines and build projects are kept definitions whose runs are
/// recorded (never executed).
pub fn pipeline_providers(
    pipelines: Arc<sagestack_codepipeline::Pipelines>,
    builds: Arc<sagestack_codebuild::Builds>,
) -> Vec<(String, Arc<dyn ResourceProvider>)> {
    vec![
        (
            sagestack_codepipeline::provider::TYPE_NAME.to_string(),
            Arc::new(sagestack_codepipeline::PipelineProvider::new(pipelines))
                as Arc<dyn ResourceProvider>,
        ),
        (
            sagestack_codebuild::provider::TYPE_NAME.to_string(),
            Arc::new(sagestack_codebuild::ProjectProvider::new(builds)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use sagestack_sagemaker::SystemClock;

    #[tokio::test]
    async fn one_provider_per_type_each_knowing_its_type() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            sagestack_store::SqliteStore::open(dir.path())
                .await
                .unwrap(),
        );
        let groups = Arc::new(ModelPackageGroups::new(
            store.clone(),
            Arc::new(SystemClock),
        ));
        let parameters = Arc::new(Parameters::with_system_clock(store.clone()));
        let logs = Arc::new(sagestack_logs::Logs::new(
            store.clone(),
            Arc::new(SystemClock),
            sagestack_logs::Scope {
                region: "us-east-1".into(),
                account_id: "123456789012".into(),
            },
        ));
        let pipelines = Arc::new(sagestack_codepipeline::Pipelines::new(
            store.clone(),
            Arc::new(SystemClock),
            sagestack_codepipeline::Scope {
                region: "us-east-1".into(),
                account_id: "123456789012".into(),
            },
        ));
        let builds = Arc::new(sagestack_codebuild::Builds::new(
            store.clone(),
            Arc::new(SystemClock),
            sagestack_codebuild::Scope {
                region: "us-east-1".into(),
                account_id: "123456789012".into(),
            },
        ));
        let mut list = native_providers(store.clone(), store, groups, parameters);
        list.push(log_group_provider(logs));
        list.extend(pipeline_providers(pipelines, builds));
        let types: Vec<&str> = list.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            types,
            [
                "AWS::SSM::Parameter",
                "AWS::SageMaker::ModelPackageGroup",
                "AWS::SageMaker::ModelPackage",
                "AWS::IAM::Role",
                "AWS::S3::Bucket",
                "AWS::S3::BucketPolicy",
                "AWS::Logs::LogGroup",
                "AWS::CodePipeline::Pipeline",
                "AWS::CodeBuild::Project"
            ]
        );
        for (t, p) in &list {
            assert_eq!(p.type_info(t).map(|i| i.type_name), Some(t.clone()));
        }
    }

    /// Which types act outside the stacks' store, with buckets in `objects`.
    async fn outside(store: Arc<dyn Store>, objects: Arc<dyn Store>) -> Vec<String> {
        let groups = Arc::new(ModelPackageGroups::new(
            store.clone(),
            Arc::new(SystemClock),
        ));
        let parameters = Arc::new(Parameters::with_system_clock(store.clone()));
        native_providers(store, objects, groups, parameters)
            .into_iter()
            .filter(|(t, p)| p.effects_outside_store(t))
            .map(|(t, _)| t)
            .collect()
    }

    #[tokio::test]
    async fn buckets_in_another_store_act_outside_the_stacks_store() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let open = async |dir: &tempfile::TempDir| {
            let store = sagestack_store::SqliteStore::open(dir.path())
                .await
                .unwrap();
            Arc::new(store) as Arc<dyn Store>
        };
        let (main, account) = (open(&a).await, open(&b).await);
        assert!(outside(main.clone(), main.clone()).await.is_empty());
        assert_eq!(
            outside(account, main).await,
            ["AWS::S3::Bucket", "AWS::S3::BucketPolicy"]
        );
    }
}
