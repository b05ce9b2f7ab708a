//! Running a prepared operation on its stack and settling its outcome: the provisioned
//! product's status and the record's, in that order (a client that sees the record
//! settled must see the product settled too). Also the judgement of operations a
//! previous process left in progress ([`ProvisionedProducts::recover`]).
//!
//! A settlement never overwrites a provisioned product that a newer operation has
//! claimed since (its `LastRecordId` decides).

use sagestack_cloudformation::{
    CloudFormationService, CreateStackInput, EngineError, StackRecord, StackStatus,
    UpdateStackInput,
};
use sagestack_store::CatalogKind;

use super::{Prepared, ProvisionedProducts, Step};
use crate::catalog::Result;
use crate::catalog::seconds;
use crate::model::{
    Product, ProvisionedProduct, Record, RecordError, RecordOutput, record_status, record_type,
    status,
};

/// Capabilities a Service Catalog launch grants its stack (AWS launches with all three).
const CAPABILITIES: [&str; 3] = [
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
    "CAPABILITY_AUTO_EXPAND",
];

fn capabilities() -> Vec<String> {
    CAPABILITIES.iter().map(|c| c.to_string()).collect()
}

pub(crate) enum Outcome {
    Succeeded(StackRecord),
    /// The stack refused the operation and is unchanged.
    Refused {
        reason: String,
        prior_status: String,
        prior_message: Option<String>,
    },
    Deleted,
    Failed {
        stack: Option<StackRecord>,
        reason: String,
        /// The stack is back where it was (an update rolled back): `TAINTED`.
        rolled_back: bool,
    },
}

impl Outcome {
    /// A stack operation that could not even start.
    fn not_started(reason: impl ToString, rolled_back: bool) -> Self {
        Outcome::Failed {
            stack: None,
            reason: reason.to_string(),
            rolled_back,
        }
    }
}

/// The most precise reason a stack operation failed: the first failed resource's, else
/// the stack's own (its status reason, or the reason its own events give, such as a
/// `ROLLBACK_IN_PROGRESS` "No export named X found").
async fn failure_reason(cfn: &CloudFormationService, stack: &StackRecord) -> String {
    let events = cfn
        .engine()
        .stack_events(&stack.stack_id, None, 500)
        .await
        .unwrap_or_default();
    let stack_level = events
        .iter()
        .rev()
        .find_map(|e| e.stack_reason().map(str::to_string));
    let mut reason = stack
        .status_reason
        .clone()
        .or(stack_level)
        .unwrap_or_else(|| format!("Stack {} is in {} state", stack.stack_name, stack.status));
    if let Some(e) = events.iter().rev().find(|e| {
        e.resource_status.ends_with("_FAILED")
            && e.logical_resource_id != stack.stack_name
            && e.resource_status_reason.is_some()
    }) {
        reason = format!(
            "{}: {} ({})",
            e.logical_resource_id,
            e.resource_status_reason.clone().unwrap_or_default(),
            e.resource_status
        );
    }
    reason
}

impl ProvisionedProducts {
    /// A stack that ended but not as wanted: failed, with the reason.
    async fn failed(&self, stack: StackRecord, rolled_back: bool) -> Outcome {
        let reason = failure_reason(&self.cfn, &stack).await;
        Outcome::Failed {
            stack: Some(stack),
            reason,
            rolled_back,
        }
    }

    /// Runs one checked step on the stack and settles the provisioned product and
    /// record; the settled record.
    pub(super) async fn run(&self, (record, pp, step): Prepared) -> Record {
        let outcome = self.drive(&pp, step).await;
        match self.settle(&pp, record.clone(), outcome).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(record = %record.record_id, "cannot settle the record: {e}");
                let mut r = record;
                r.status = record_status::FAILED.into();
                r.record_errors.push(RecordError {
                    code: "InternalFailure".into(),
                    description: e.to_string(),
                });
                r
            }
        }
    }

    /// Finishes an operation whose task died with the previous process.
    pub(super) async fn resume(&self, pp: ProvisionedProduct, record: Record) -> Record {
        const INTERRUPTED: &str =
            "The operation was interrupted by a server restart before its stack operation started.";
        let target = pp.stack_id.clone().unwrap_or_else(|| pp.stack_name.clone());
        let stack = match self.cfn.describe_stack(&target).await {
            Ok(s) => Some(self.cfn.wait_for_settled(&s.stack_id).await.unwrap_or(s)),
            Err(_) => None,
        };
        let outcome = match (record.record_type.as_str(), stack) {
            (record_type::TERMINATE, None) => Outcome::Deleted,
            (record_type::TERMINATE, Some(s)) if s.status == StackStatus::DeleteComplete => {
                Outcome::Deleted
            }
            (record_type::TERMINATE, Some(_)) => {
                let step = Step::Terminate {
                    ignore_errors: false,
                };
                self.drive(&pp, step).await
            }
            (record_type::PROVISION, Some(s)) if s.status == StackStatus::CreateComplete => {
                Outcome::Succeeded(s)
            }
            (record_type::UPDATE, Some(s))
                if s.status == StackStatus::UpdateComplete
                    && self.artifact_body(&record).await.as_deref()
                        == Some(s.template.body.as_str()) =>
            {
                Outcome::Succeeded(s)
            }
            (kind, Some(s)) => {
                let finished = s.status != StackStatus::CreateComplete
                    && s.status != StackStatus::UpdateComplete;
                let reason = if finished {
                    failure_reason(&self.cfn, &s).await
                } else {
                    INTERRUPTED.to_string()
                };
                Outcome::Failed {
                    rolled_back: kind == record_type::UPDATE && s.status.is_updatable(),
                    stack: Some(s),
                    reason,
                }
            }
            (_, None) => Outcome::not_started(INTERRUPTED, false),
        };
        match self.settle(&pp, record.clone(), outcome).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(record = %record.record_id, "cannot settle the record: {e}");
                record
            }
        }
    }

    /// The template of the artifact a record launches.
    async fn artifact_body(&self, record: &Record) -> Option<String> {
        let product: Product = self
            .catalog
            .read(CatalogKind::Product, &record.product_id)
            .await
            .ok()??;
        product
            .artifact(&record.provisioning_artifact_id)
            .map(|a| a.template_body.clone())
    }

    async fn drive(&self, pp: &ProvisionedProduct, step: Step) -> Outcome {
        match step {
            Step::Create {
                template,
                parameters,
                tags,
            } => {
                let input = CreateStackInput {
                    stack_name: pp.stack_name.clone(),
                    template_body: template,
                    parameters,
                    capabilities: capabilities(),
                    tags,
                    disable_rollback: false,
                    ..Default::default()
                };
                match self.cfn.create_stack_and_wait(input).await {
                    Ok(stack) if stack.status == StackStatus::CreateComplete => {
                        Outcome::Succeeded(stack)
                    }
                    Ok(stack) => self.failed(stack, false).await,
                    Err(e) => Outcome::not_started(e, false),
                }
            }
            Step::Update {
                template,
                parameters,
                tags,
                prior_status,
                prior_message,
            } => {
                let mut input = UpdateStackInput {
                    stack_name: pp.stack_id.clone().unwrap_or_else(|| pp.stack_name.clone()),
                    template_body: Some(template),
                    parameters,
                    ..Default::default()
                };
                input.capabilities = capabilities();
                input.tags = tags;
                match self.cfn.update_stack_and_wait(input).await {
                    Ok(stack) if stack.status == StackStatus::UpdateComplete => {
                        Outcome::Succeeded(stack)
                    }
                    Ok(stack) => {
                        let rolled_back = stack.status == StackStatus::UpdateRollbackComplete;
                        self.failed(stack, rolled_back).await
                    }
                    Err(EngineError::NoUpdates) => {
                        match self.cfn.describe_stack(&pp.stack_name).await {
                            Ok(stack) => Outcome::Succeeded(stack),
                            Err(e) => Outcome::not_started(e, true),
                        }
                    }
                    Err(e) => Outcome::Refused {
                        reason: e.to_string(),
                        prior_status,
                        prior_message,
                    },
                }
            }
            Step::Terminate { ignore_errors } => {
                let result = match &pp.stack_id {
                    // The launch never created a stack: nothing to delete.
                    None => Ok(None),
                    Some(id) => self.cfn.delete_stack_and_wait(id).await,
                };
                match result {
                    Ok(None) => Outcome::Deleted,
                    Ok(Some(stack)) if stack.status == StackStatus::DeleteComplete => {
                        Outcome::Deleted
                    }
                    Ok(Some(stack)) if ignore_errors => {
                        tracing::warn!(stack = %stack.stack_id, "terminating despite {}", stack.status);
                        Outcome::Deleted
                    }
                    Ok(Some(stack)) => self.failed(stack, false).await,
                    Err(_) if ignore_errors => Outcome::Deleted,
                    Err(e) => Outcome::not_started(e, false),
                }
            }
        }
    }

    pub(crate) async fn settle(
        &self,
        pp: &ProvisionedProduct,
        mut record: Record,
        outcome: Outcome,
    ) -> Result<Record> {
        record.updated_time = seconds(self.catalog.clock.now());
        match &outcome {
            Outcome::Succeeded(stack) => {
                record.status = record_status::SUCCEEDED.into();
                record.record_outputs = stack
                    .outputs
                    .iter()
                    .map(|o| RecordOutput {
                        output_key: o.key.clone(),
                        output_value: o.value.clone(),
                        description: o.description.clone(),
                    })
                    .collect();
                record.record_outputs.push(RecordOutput {
                    output_key: "CloudformationStackARN".into(),
                    output_value: stack.stack_id.clone(),
                    description: Some("The ARN of the launched Cloudformation Stack".into()),
                });
            }
            Outcome::Deleted => {
                record.status = record_status::SUCCEEDED.into();
            }
            Outcome::Failed { reason, .. } | Outcome::Refused { reason, .. } => {
                record.status = record_status::FAILED.into();
                record.record_errors.push(RecordError {
                    code: "CFN_STACK_FAILURE".into(),
                    description: reason.clone(),
                });
            }
        }
        // The provisioned product first: a client that sees the record settled must see
        // the product settled too.
        if matches!(outcome, Outcome::Deleted) {
            self.catalog
                .store
                .catalog_delete(CatalogKind::ProvisionedProduct, &pp.id)
                .await?;
        } else {
            self.catalog
                .try_modify(
                    CatalogKind::ProvisionedProduct,
                    &pp.id,
                    |p: &mut ProvisionedProduct| {
                        if p.last_record_id == record.record_id {
                            apply(p, &record, &outcome); // else a newer operation owns it
                        }
                        Ok(())
                    },
                )
                .await?;
        }
        self.catalog
            .try_modify(CatalogKind::Record, &record.record_id, |r: &mut Record| {
                *r = record.clone();
                Ok(())
            })
            .await?;
        Ok(record)
    }
}

/// What an operation's outcome makes of its provisioned product.
fn apply(p: &mut ProvisionedProduct, record: &Record, outcome: &Outcome) {
    match outcome {
        Outcome::Succeeded(stack) => {
            p.status = status::AVAILABLE.into();
            p.status_message = None;
            p.stack_id = Some(stack.stack_id.clone());
            p.provisioning_artifact_id = record.provisioning_artifact_id.clone();
            p.path_id = record.path_id.clone();
            p.parameters = stack.template.parameters.clone();
            if record.record_type != record_type::TERMINATE {
                p.last_successful_provisioning_record_id = Some(record.record_id.clone());
            }
        }
        Outcome::Failed {
            stack,
            reason,
            rolled_back,
        } => {
            if let Some(s) = stack
                && record.record_type == record_type::PROVISION
                && s.status != StackStatus::DeleteComplete
            {
                p.stack_id = Some(s.stack_id.clone());
            }
            p.status = if *rolled_back {
                status::TAINTED.into()
            } else {
                status::ERROR.into()
            };
            p.status_message = Some(reason.clone());
        }
        Outcome::Refused {
            prior_status,
            prior_message,
            ..
        } => {
            p.status = prior_status.clone();
            p.status_message = prior_message.clone();
        }
        Outcome::Deleted => {}
    }
}
