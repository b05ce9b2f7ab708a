//! The provisioner's queue: one task per project at a time (later changes queue behind
//! it), at most `concurrency` operations at once, each run deferred and flushed once at
//! its end; the status reports and the purge timer of `DeleteCompleted` projects.
//!
//! What an operation does is elsewhere: `crate::stacks` for template providers,
//! [`crate::service_catalog`] for Service Catalog products.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sagestack_cloudformation::{CloudFormationService, TemplateSource};
use sagestack_sagemaker::{Project, ProjectStatus, Projects, ProvisioningUpdate, SageMakerError};
use tokio::sync::{Semaphore, watch};

use crate::stacks::{Outcome, stack_detail, with_stack_detail};
use crate::{ProvisioningConfig, ServiceCatalogBackend};

/// One queued operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Create,
    Update,
    Delete,
}

/// Template body -> declared parameter names, or the validation message.
pub(crate) type Checked = Result<Arc<Vec<String>>, String>;

/// The provisioner's shared state (cloned into every task).
pub(crate) struct Inner {
    pub(crate) config: ProvisioningConfig,
    pub(crate) source: Option<Arc<dyn TemplateSource>>,
    pub(crate) service_catalog: Option<Arc<dyn ServiceCatalogBackend>>,
    pub(crate) projects: Arc<Projects>,
    pub(crate) cfn: Arc<CloudFormationService>,
    pub(crate) permits: Semaphore,
    /// Project id -> operations queued behind the running one. Present while a task
    /// works on the project.
    pub(crate) queues: Mutex<HashMap<String, VecDeque<(Op, Project)>>>,
    /// Operations queued or running (for `ProjectProvisioner::wait_idle`).
    pub(crate) in_flight: watch::Sender<usize>,
    /// Template body -> declared parameter names, or the validation message.
    pub(crate) templates: Mutex<HashMap<String, Checked>>,
    /// This process's claims: a project's (`CLAIM`, project id) is held while a task of
    /// this process works on it, so a replica takes over only what nobody drives.
    pub(crate) claims: Arc<dyn sagestack_engine::claims::Claims>,
}

/// The kind of claim naming a project (by project id: a name is reused after a purge).
pub(crate) const CLAIM: &str = "project";

pub(crate) fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Inner {
    pub(crate) fn is_busy(&self, project_id: &str) -> bool {
        self.queues.lock().unwrap().contains_key(project_id)
    }

    /// Queues `op` behind the project's running operation, or starts a task for it.
    /// Claims the project `project_id` for this process (`false`: a live process holds
    /// it, or the store failed, which is logged).
    pub(crate) async fn claim(&self, project_id: &str) -> bool {
        match self.claims.claim(CLAIM, project_id).await {
            Ok(won) => won,
            Err(e) => {
                tracing::error!(project_id, "cannot claim the project: {e}");
                false
            }
        }
    }

    pub(crate) fn submit(self: &Arc<Self>, op: Op, project: Project) {
        let id = project.project_id.clone();
        {
            let mut queues = self.queues.lock().unwrap();
            if let Some(queue) = queues.get_mut(&id) {
                queue.push_back((op, project));
                return;
            }
            queues.insert(id.clone(), VecDeque::new());
        }
        self.in_flight.send_modify(|n| *n += 1);
        let inner = self.clone();
        tokio::spawn(async move {
            let (mut op, mut project) = (op, project);
            // Another live process drives the project (it took it over, or runs an
            // operation of its own): it records the outcome; what was queued here is
            // resumed from the record by whoever holds the project next.
            if !inner.claim(&id).await {
                inner.queues.lock().unwrap().remove(&id);
                inner.in_flight.send_modify(|n| *n -= 1);
                return;
            }
            loop {
                {
                    let _permit = inner.permits.acquire().await;
                    // The operation's steps need not wait for stable storage one by
                    // one; one flush at its end covers them (see
                    // `sagestack_engine::durability`).
                    sagestack_engine::durability::deferred(inner.run(op, &project)).await;
                    if let Err(e) = inner.cfn.flush().await {
                        tracing::error!(project = %project.project_name, "flushing the finished operation: {e}");
                    }
                }
                let queued = inner
                    .queues
                    .lock()
                    .unwrap()
                    .get_mut(&id)
                    .and_then(VecDeque::pop_front);
                let next = match queued {
                    Some(next) => next,
                    None => {
                        // Given back while still registered (so nothing in this process
                        // starts a second task meanwhile); what was queued since is
                        // claimed again.
                        inner.claims.release(CLAIM, &id).await;
                        let requeued = {
                            let mut queues = inner.queues.lock().unwrap();
                            let next = queues.get_mut(&id).and_then(VecDeque::pop_front);
                            if next.is_none() {
                                queues.remove(&id);
                            }
                            next
                        };
                        let Some(next) = requeued else { break };
                        if !inner.claim(&id).await {
                            inner.queues.lock().unwrap().remove(&id);
                            break;
                        }
                        next
                    }
                };
                (op, project) = next;
            }
            inner.in_flight.send_modify(|n| *n -= 1);
        });
    }

    async fn run(self: &Arc<Self>, op: Op, project: &Project) {
        let (projects, cfn) = (&self.projects, &self.cfn);
        let result = if project.service_catalog_provisioning_details.is_some() {
            self.run_service_catalog(projects, op, project).await
        } else {
            match op {
                Op::Create => self.create(projects, cfn, project).await,
                Op::Update => self.update(projects, cfn, project).await,
                Op::Delete => self.delete(projects, cfn, project).await,
            }
        };
        if let Err(e) = result {
            // The store failed: the project stays in its in-progress state and the next
            // start-up reconciliation resumes it.
            tracing::error!(project = %project.project_name, ?op, "provisioning could not record its progress: {e}");
        }
    }

    /// Writes a status report; `false` when the project has moved on.
    pub(crate) async fn record(
        &self,
        projects: &Projects,
        project: &Project,
        expected: &[ProjectStatus],
        stack_name: &str,
        outcome: &Outcome,
    ) -> Result<bool, SageMakerError> {
        let status = outcome.status;
        let update = ProvisioningUpdate::new(&project.project_id, expected, status)
            .with_template_provider_details(with_stack_detail(
                project,
                stack_detail(stack_name, outcome.stack_id.as_deref(), &outcome.message),
            ));
        let recorded = projects
            .record_provisioning(&project.project_name, update)
            .await?;
        if recorded.is_none() {
            tracing::info!(project = %project.project_name, %status, "report dropped: the project moved on");
        }
        Ok(recorded.is_some())
    }

    /// Removes the `DeleteCompleted` record after `after` (a timer, not a poll). The
    /// timer holds the projects' state, not the provisioner: a purge due later than the
    /// process lives is rescheduled by the next start-up's reconciliation.
    pub(crate) fn schedule_purge(&self, project: &Project, after: Duration) {
        let projects = self.projects.clone();
        let (name, id) = (project.project_name.clone(), project.project_id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            if let Err(e) = projects.purge_deleted(&name, &id).await {
                tracing::warn!(project = %name, "could not purge the deleted project: {e}");
            }
        });
    }
}
