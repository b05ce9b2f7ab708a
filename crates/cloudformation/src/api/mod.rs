//! The CloudFormation API (AWS Query protocol, version `2010-05-15`) over
//! [`CloudFormationService`].
//!
//! `sagestack-protocol` decodes the form body into a tree and writes the XML; this module
//! reads the members each operation takes ([`input`]), calls the service, and builds the
//! model's result structures ([`output`]). Every error is an [`ApiError`] carrying the
//! model's code (`ValidationError`, `AlreadyExistsException`, `ChangeSetNotFound`...),
//! and the protocol layer turns it into the Query `ErrorResponse`.
//!
//! What this layer adds to the engine: parameter `UsePreviousValue` and
//! `UsePreviousTemplate` resolution, `OnFailure`, pagination tokens, status filters,
//! stacks found by physical resource id, the reserved `SP-` names of SageMaker project
//! stacks ([`project`]), template summaries, and `TemplateURL`s read through the
//! [`TemplateSource`] the server configures ([`CloudFormationApi::with_template_source`];
//! without one, a `TemplateURL` is refused and the caller is told to send `TemplateBody`).
//! Every fetch failure is a `ValidationError` whose message is the
//! [`crate::TemplateFetchError`] text (`TemplateURL must be a supported URL. ...`,
//! `S3 error: The specified key does not exist. ...`), as CloudFormation reports them.

mod changesets;
mod drift;
pub mod error;
pub mod input;
pub mod output;
pub mod project;
mod protection;
mod stacks;
mod templates;
#[cfg(test)]
mod tests;
pub mod time;
mod token;

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use sagestack_protocol::RequestContext;
use sagestack_protocol::query::{self, QueryError, QueryService, Xml};
use sagestack_protocol::validate::Model;
use serde_json::Value;

pub use error::ApiError;
pub use project::{PROJECT_STACK_PREFIX, is_project_stack};

use crate::CloudFormationService;
use crate::source::{S3_TEMPLATE_LIMIT, TemplateSource};
use input::Input;

/// The API version CloudFormation's Query requests carry.
pub const VERSION: &str = "2010-05-15";
/// The namespace of CloudFormation's XML responses.
pub const XML_NAMESPACE: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

/// The input shapes of the operations served (from the botocore model), so every
/// constrained member is checked with AWS's wording before an operation runs.
///
/// One constraint is ours: `TemplateBody` has `max: 51200`. botocore declares no maximum,
/// but the service refuses a longer inline body with exactly the validator's message
/// ("1 validation error detected: Value '...' at 'templateBody' failed to satisfy
/// constraint: Member must have length less than or equal to 51200"), for every operation
/// that takes one; a bigger template must come from S3 (`TemplateURL`, 1 MB).
pub static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::parse(include_str!("model.json"))
        .expect("embedded CloudFormation model is valid (tested)")
        .with_verbatim_patterns()
});

/// Items per page where the API paginates with `NextToken`.
pub const PAGE_SIZE: usize = 100;

/// The CloudFormation API, routed by the server for `Version=2010-05-15`.
#[derive(Clone)]
pub struct CloudFormationApi {
    service: Arc<CloudFormationService>,
    page_size: usize,
    /// Where `TemplateURL`s are read; `None` refuses them.
    template_source: Option<Arc<dyn TemplateSource>>,
}

type Result<T, E = ApiError> = std::result::Result<T, E>;

impl CloudFormationApi {
    pub fn new(service: Arc<CloudFormationService>) -> Self {
        Self {
            service,
            page_size: PAGE_SIZE,
            template_source: None,
        }
    }

    /// Reads `TemplateURL`s through `source` (the embedded object store or an external
    /// S3, built by the server).
    pub fn with_template_source(mut self, source: Arc<dyn TemplateSource>) -> Self {
        self.template_source = Some(source);
        self
    }

    /// The template a `TemplateURL` names, at most the S3 template limit.
    async fn fetch_template(&self, url: &str) -> Result<String> {
        let Some(source) = &self.template_source else {
            return Err(template_url_unsupported());
        };
        source
            .fetch(url, S3_TEMPLATE_LIMIT)
            .await
            .map_err(|e| ApiError::validation(e.to_string()))
    }

    /// Smaller pages (tests exercise `NextToken` with a few items).
    pub fn with_page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    pub fn service(&self) -> &Arc<CloudFormationService> {
        &self.service
    }

    /// Runs one action on its decoded members: the result element's content, `None` for
    /// actions without output.
    pub async fn execute(&self, action: &str, params: &Value) -> Result<Option<Xml>, ApiError> {
        // Typed as the model says (booleans, numbers, empty lists), then validated.
        let mut params = params.clone();
        MODEL.coerce_query(action, &mut params);
        MODEL
            .validate(action, &params)
            .map_err(|e| ApiError::validation(e.message()))?;
        let input = Input::new(&params);
        let xml = match action {
            "CreateStack" => self.create_stack(&input).await?,
            "UpdateStack" => self.update_stack(&input).await?,
            "DeleteStack" => self.delete_stack(&input).await.map(|()| Xml::new())?,
            "DescribeStacks" => self.describe_stacks(&input).await?,
            "ListStacks" => self.list_stacks(&input).await?,
            "DescribeStackEvents" => self.describe_stack_events(&input).await?,
            "DescribeStackResource" => self.describe_stack_resource(&input).await?,
            "DescribeStackResources" => self.describe_stack_resources(&input).await?,
            "ListStackResources" => self.list_stack_resources(&input).await?,
            "CancelUpdateStack" => self
                .cancel_update_stack(&input)
                .await
                .map(|()| Xml::new())?,
            "ContinueUpdateRollback" => self.continue_update_rollback(&input).await?,
            "ListExports" => self.list_exports(&input).await?,
            "ListImports" => self.list_imports(&input).await?,
            "GetTemplate" => self.get_template(&input).await?,
            "GetTemplateSummary" => self.get_template_summary(&input).await?,
            "ValidateTemplate" => self.validate_template(&input).await?,
            "CreateChangeSet" => self.create_change_set(&input).await?,
            "DescribeChangeSet" => self.describe_change_set(&input).await?,
            "ExecuteChangeSet" => self.execute_change_set(&input).await?,
            "DeleteChangeSet" => self.delete_change_set(&input).await?,
            "ListChangeSets" => self.list_change_sets(&input).await?,
            "DetectStackDrift" => self.detect_stack_drift(&input).await?,
            "DetectStackResourceDrift" => self.detect_stack_resource_drift(&input).await?,
            "DescribeStackDriftDetectionStatus" => self.drift_detection_status(&input).await?,
            "DescribeStackResourceDrifts" => self.describe_stack_resource_drifts(&input).await?,
            "SetStackPolicy" => self.set_stack_policy(&input).await.map(|()| Xml::new())?,
            "GetStackPolicy" => self.get_stack_policy(&input).await?,
            "UpdateTerminationProtection" => self.update_termination_protection(&input).await?,
            _ => {
                return Err(ApiError {
                    code: "InvalidAction",
                    message: format!("Could not find operation {action} for version {VERSION}"),
                    status: 400,
                });
            }
        };
        Ok((!NO_RESULT.contains(&action)).then_some(xml))
    }

    /// The page of `items` the request's `NextToken` asks for, as the list `name` of their
    /// `shape`s, with the token of the next page: every paginated `List*` / `Describe*`.
    fn paged<T>(
        &self,
        input: &Input<'_>,
        name: &'static str,
        items: Vec<T>,
        shape: impl Fn(&T) -> Xml,
    ) -> Result<Xml> {
        let (page, next) = self.page(input, name, items)?;
        Ok(Xml::new()
            .list(name, page.iter().map(shape))
            .opt_text("NextToken", next))
    }

    /// One page of `items` from the position in the request's `NextToken` (a token of
    /// the listing `name` of the same arguments), and the token of the next page.
    fn page<T>(
        &self,
        input: &Input<'_>,
        name: &str,
        items: Vec<T>,
    ) -> Result<(Vec<T>, Option<String>)> {
        self.page_of(input, name, items, self.page_size)
    }

    /// [`Self::page`] with pages of at most `size` items (a request's `MaxResults`).
    fn page_of<T>(
        &self,
        input: &Input<'_>,
        name: &str,
        items: Vec<T>,
        size: usize,
    ) -> Result<(Vec<T>, Option<String>)> {
        let scope = listing_scope(input, name);
        let start = match input.str("NextToken") {
            None => 0,
            Some(t) => usize::try_from(token::open(&scope, t)?)
                .map_err(|_| ApiError::validation("Invalid NextToken"))?,
        };
        let end = (start + size).min(items.len());
        let next = (end < items.len()).then(|| token::seal(&scope, end as u64));
        let page = items
            .into_iter()
            .skip(start)
            .take(end.saturating_sub(start))
            .collect();
        Ok((page, next))
    }
}

/// What a `NextToken` is bound to: the listing (`name`) and the arguments that choose it.
fn listing_scope(input: &Input<'_>, name: &str) -> String {
    let arg = |k: &str| input.str(k).unwrap_or_default().to_owned();
    format!("{name}\0{}\0{}", arg("StackName"), arg("ExportName"))
}

/// `TemplateURL` without a configured [`TemplateSource`] (an API built without one).
fn template_url_unsupported() -> ApiError {
    ApiError::validation(
        "TemplateURL is not supported by this server (no template source is configured): \
         send the template inline with TemplateBody",
    )
}

/// The actions whose response carries no result element.
const NO_RESULT: [&str; 3] = ["DeleteStack", "CancelUpdateStack", "SetStackPolicy"];

#[async_trait]
impl QueryService for CloudFormationApi {
    fn version(&self) -> &'static str {
        VERSION
    }

    fn xml_namespace(&self) -> &'static str {
        XML_NAMESPACE
    }

    async fn call(&self, _: &RequestContext, action: &str, params: Value) -> query::CallResult {
        match self.execute(action, &params).await {
            Ok(xml) => Ok(xml),
            Err(e) if e.code == "InvalidAction" => Err(Box::new(QueryError::InvalidAction {
                action: action.to_owned(),
                version: VERSION.to_owned(),
            })),
            Err(e) => Err(Box::new(e)),
        }
    }
}
