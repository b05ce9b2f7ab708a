//! Bucket sub-resources: versioning, policy (and its status), Block Public Access,
//! default encryption, Object Ownership and the bucket ACL, kept in the bucket document
//! by [`crate::config`] (which owns the model, the defaults of a new bucket and the
//! checks); and the answers for an unconfigured bucket of the sub-resources that are not
//! kept (CORS, website, accelerate, request payment, logging, replication, Object Lock),
//! which clients such as Terraform's `aws_s3_bucket` read on every refresh.
//!
//! This file converts between s3s's types and the model; it never decides what is
//! valid. Lifecycle rules are in `lifecycle`.

use super::*;
use crate::config::{
    self, BucketDocument, Encryption, EncryptionDefault, EncryptionRule, PublicAccessBlock,
};

impl S3Api {
    /// Bucket `name`'s document (else `NoSuchBucket`).
    pub(super) async fn bucket_document(&self, name: &str) -> S3Result<BucketDocument> {
        let bucket = self.existing_bucket(name).await?;
        Ok(BucketDocument::parse(&bucket.document))
    }

    /// Edits bucket `name`'s document with `change` ([`config::update_document`]).
    pub(super) async fn update_document<T>(
        &self,
        name: &str,
        change: impl FnOnce(&mut BucketDocument) -> Result<T, ConfigError>,
    ) -> S3Result<T> {
        config::update_document(&self.store, name, change)
            .await
            .map_err(update_error(name))
    }
}

// --- versioning ----------------------------------------------------------------------

pub(super) async fn get_bucket_versioning(
    api: &S3Api,
    input: GetBucketVersioningInput,
) -> S3Result<GetBucketVersioningOutput> {
    let v = api.bucket_document(&input.bucket).await?.versioning();
    Ok(GetBucketVersioningOutput {
        status: v.status.map(BucketVersioningStatus::from),
        mfa_delete: v.mfa_delete.map(MFADeleteStatus::from),
    })
}

/// Stores the versioning state. Objects are still overwritten in place whatever the
/// state (no versions are kept, no `x-amz-version-id` is returned).
pub(super) async fn put_bucket_versioning(
    api: &S3Api,
    input: PutBucketVersioningInput,
) -> S3Result<PutBucketVersioningOutput> {
    let c = input.versioning_configuration;
    let status = c.status.map(|s| s.as_str().to_owned());
    let mfa_delete = c.mfa_delete.map(|m| m.as_str().to_owned());
    let mfa = input.mfa;
    api.update_document(&input.bucket, |doc| {
        let v =
            doc.versioning()
                .changed(status.as_deref(), mfa_delete.as_deref(), mfa.as_deref())?;
        doc.set_versioning(&v);
        Ok(())
    })
    .await?;
    Ok(PutBucketVersioningOutput::default())
}

// --- policy --------------------------------------------------------------------------

fn no_such_policy() -> S3Error {
    not_configured("NoSuchBucketPolicy", "The bucket policy does not exist")
}

pub(super) async fn get_bucket_policy(
    api: &S3Api,
    input: GetBucketPolicyInput,
) -> S3Result<GetBucketPolicyOutput> {
    let policy = api.bucket_document(&input.bucket).await?.policy();
    Ok(GetBucketPolicyOutput {
        policy: Some(policy.ok_or_else(no_such_policy)?),
    })
}

pub(super) async fn put_bucket_policy(
    api: &S3Api,
    input: PutBucketPolicyInput,
) -> S3Result<PutBucketPolicyOutput> {
    let bucket = input.bucket;
    api.update_document(&bucket, |doc| {
        doc.set_policy_checked(&bucket, &input.policy)
    })
    .await?;
    Ok(PutBucketPolicyOutput::default())
}

pub(super) async fn delete_bucket_policy(
    api: &S3Api,
    input: DeleteBucketPolicyInput,
) -> S3Result<DeleteBucketPolicyOutput> {
    api.update_document(&input.bucket, |doc| {
        doc.set_policy(None);
        Ok(())
    })
    .await?;
    Ok(DeleteBucketPolicyOutput::default())
}

pub(super) async fn get_bucket_policy_status(
    api: &S3Api,
    input: GetBucketPolicyStatusInput,
) -> S3Result<GetBucketPolicyStatusOutput> {
    let policy = api.bucket_document(&input.bucket).await?.policy();
    let policy = policy.ok_or_else(no_such_policy)?;
    Ok(GetBucketPolicyStatusOutput {
        policy_status: Some(PolicyStatus {
            is_public: Some(config::policy::is_public(&policy)),
        }),
    })
}

// --- Block Public Access --------------------------------------------------------------

pub(super) async fn get_public_access_block(
    api: &S3Api,
    input: GetPublicAccessBlockInput,
) -> S3Result<GetPublicAccessBlockOutput> {
    let pab = api
        .bucket_document(&input.bucket)
        .await?
        .public_access_block()
        .ok_or_else(|| {
            not_configured(
                "NoSuchPublicAccessBlockConfiguration",
                "The public access block configuration was not found",
            )
        })?;
    Ok(GetPublicAccessBlockOutput {
        public_access_block_configuration: Some(PublicAccessBlockConfiguration {
            block_public_acls: Some(pab.block_public_acls),
            block_public_policy: Some(pab.block_public_policy),
            ignore_public_acls: Some(pab.ignore_public_acls),
            restrict_public_buckets: Some(pab.restrict_public_buckets),
        }),
    })
}

pub(super) async fn put_public_access_block(
    api: &S3Api,
    input: PutPublicAccessBlockInput,
) -> S3Result<PutPublicAccessBlockOutput> {
    let c = input.public_access_block_configuration;
    let pab = PublicAccessBlock {
        block_public_acls: c.block_public_acls.unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
        block_public_policy: c.block_public_policy.unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
    };
    api.update_document(&input.bucket, |doc| {
        doc.set_public_access_block(Some(&pab));
        Ok(())
    })
    .await?;
    Ok(PutPublicAccessBlockOutput::default())
}

pub(super) async fn delete_public_access_block(
    api: &S3Api,
    input: DeletePublicAccessBlockInput,
) -> S3Result<DeletePublicAccessBlockOutput> {
    api.update_document(&input.bucket, |doc| {
        doc.set_public_access_block(None);
        Ok(())
    })
    .await?;
    Ok(DeletePublicAccessBlockOutput::default())
}

// --- default encryption ---------------------------------------------------------------

pub(super) async fn get_bucket_encryption(
    api: &S3Api,
    input: GetBucketEncryptionInput,
) -> S3Result<GetBucketEncryptionOutput> {
    let e = api.bucket_document(&input.bucket).await?.encryption();
    let rules = e
        .rules
        .into_iter()
        .map(|r| ServerSideEncryptionRule {
            apply_server_side_encryption_by_default: r.apply_server_side_encryption_by_default.map(
                |d| ServerSideEncryptionByDefault {
                    sse_algorithm: ServerSideEncryption::from(d.sse_algorithm),
                    kms_master_key_id: d.kms_master_key_id,
                },
            ),
            bucket_key_enabled: r.bucket_key_enabled,
        })
        .collect();
    Ok(GetBucketEncryptionOutput {
        server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration { rules }),
    })
}

pub(super) async fn put_bucket_encryption(
    api: &S3Api,
    input: PutBucketEncryptionInput,
) -> S3Result<PutBucketEncryptionOutput> {
    let e = Encryption {
        rules: input
            .server_side_encryption_configuration
            .rules
            .into_iter()
            .map(|r| EncryptionRule {
                apply_server_side_encryption_by_default: r
                    .apply_server_side_encryption_by_default
                    .map(|d| EncryptionDefault {
                        sse_algorithm: d.sse_algorithm.as_str().to_owned(),
                        kms_master_key_id: d.kms_master_key_id,
                    }),
                bucket_key_enabled: r.bucket_key_enabled,
            })
            .collect(),
    };
    e.validate().map_err(config_error)?;
    api.update_document(&input.bucket, |doc| {
        doc.set_encryption(Some(&e));
        Ok(())
    })
    .await?;
    Ok(PutBucketEncryptionOutput::default())
}

/// Returns the bucket to the default encryption (SSE-S3), as S3 does.
pub(super) async fn delete_bucket_encryption(
    api: &S3Api,
    input: DeleteBucketEncryptionInput,
) -> S3Result<DeleteBucketEncryptionOutput> {
    api.update_document(&input.bucket, |doc| {
        doc.set_encryption(None);
        Ok(())
    })
    .await?;
    Ok(DeleteBucketEncryptionOutput::default())
}

// --- Object Ownership and ACL ---------------------------------------------------------

pub(super) async fn get_bucket_ownership_controls(
    api: &S3Api,
    input: GetBucketOwnershipControlsInput,
) -> S3Result<GetBucketOwnershipControlsOutput> {
    let ownership = api
        .bucket_document(&input.bucket)
        .await?
        .object_ownership()
        .ok_or_else(|| {
            not_configured(
                "OwnershipControlsNotFoundError",
                "The bucket ownership controls were not found",
            )
        })?;
    Ok(GetBucketOwnershipControlsOutput {
        ownership_controls: Some(OwnershipControls {
            rules: vec![OwnershipControlsRule {
                object_ownership: ObjectOwnership::from(ownership),
            }],
        }),
    })
}

pub(super) async fn put_bucket_ownership_controls(
    api: &S3Api,
    input: PutBucketOwnershipControlsInput,
) -> S3Result<PutBucketOwnershipControlsOutput> {
    let rules: Vec<String> = input
        .ownership_controls
        .rules
        .iter()
        .map(|r| r.object_ownership.as_str().to_owned())
        .collect();
    let ownership = config::validate_ownership(&rules).map_err(config_error)?;
    api.update_document(&input.bucket, |doc| doc.set_ownership_checked(&ownership))
        .await?;
    Ok(PutBucketOwnershipControlsOutput::default())
}

pub(super) async fn delete_bucket_ownership_controls(
    api: &S3Api,
    input: DeleteBucketOwnershipControlsInput,
) -> S3Result<DeleteBucketOwnershipControlsOutput> {
    api.update_document(&input.bucket, |doc| {
        doc.set_object_ownership(None);
        Ok(())
    })
    .await?;
    Ok(DeleteBucketOwnershipControlsOutput::default())
}

/// The owner's `FULL_CONTROL`, then the group grants of the bucket's canned ACL.
pub(super) async fn get_bucket_acl(
    api: &S3Api,
    input: GetBucketAclInput,
) -> S3Result<GetBucketAclOutput> {
    let acl = api.bucket_document(&input.bucket).await?.acl();
    let owner = owner();
    let mut grants = vec![Grant {
        grantee: Some(Grantee {
            display_name: owner.display_name.clone(),
            email_address: None,
            id: owner.id.clone(),
            type_: Type::from_static(Type::CANONICAL_USER),
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    }];
    for (uri, permission) in config::canned_grants(&acl).unwrap_or_default() {
        grants.push(Grant {
            grantee: Some(Grantee {
                display_name: None,
                email_address: None,
                id: None,
                type_: Type::from_static(Type::GROUP),
                uri: Some((*uri).to_owned()),
            }),
            permission: Some(Permission::from((*permission).to_owned())),
        });
    }
    Ok(GetBucketAclOutput {
        grants: Some(grants),
        owner: Some(owner),
    })
}

/// A canned ACL (`x-amz-acl`), or an `AccessControlPolicy` that grants only the owner
/// `FULL_CONTROL` (the same as `private`). Other grants (`x-amz-grant-*` headers, a
/// policy naming other grantees) are not implemented.
pub(super) async fn put_bucket_acl(
    api: &S3Api,
    input: PutBucketAclInput,
) -> S3Result<PutBucketAclOutput> {
    let headers = [
        &input.grant_full_control,
        &input.grant_read,
        &input.grant_read_acp,
        &input.grant_write,
        &input.grant_write_acp,
    ];
    let acl = if let Some(acl) = &input.acl {
        acl.as_str().to_owned()
    } else if headers.iter().any(|h| h.is_some()) {
        return Err(s3_error!(
            NotImplemented,
            "Only canned ACLs are supported here (x-amz-acl), not x-amz-grant-* headers"
        ));
    } else if let Some(policy) = &input.access_control_policy {
        if !owner_full_control_only(policy) {
            return Err(s3_error!(
                NotImplemented,
                "Only canned ACLs (or the owner's FULL_CONTROL alone) are supported here"
            ));
        }
        "private".to_owned()
    } else {
        return Err(s3_error!(
            MissingSecurityHeader,
            "Your request was missing a required header: x-amz-acl"
        ));
    };
    api.update_document(&input.bucket, |doc| doc.set_acl(&acl))
        .await?;
    Ok(PutBucketAclOutput::default())
}

fn owner_full_control_only(policy: &AccessControlPolicy) -> bool {
    match policy.grants.as_deref() {
        Some([grant]) => {
            grant.permission.as_ref().map(Permission::as_str) == Some(Permission::FULL_CONTROL)
                && grant
                    .grantee
                    .as_ref()
                    .is_some_and(|g| g.id.as_deref() == Some(OWNER_ID))
        }
        _ => false,
    }
}

// --- sub-resources not kept: what an unconfigured bucket answers ----------------------

pub(super) async fn get_bucket_cors(
    api: &S3Api,
    input: GetBucketCorsInput,
) -> S3Result<GetBucketCorsOutput> {
    api.existing_bucket(&input.bucket).await?;
    Err(not_configured(
        "NoSuchCORSConfiguration",
        "The CORS configuration does not exist",
    ))
}

pub(super) async fn delete_bucket_cors(
    api: &S3Api,
    input: DeleteBucketCorsInput,
) -> S3Result<DeleteBucketCorsOutput> {
    api.existing_bucket(&input.bucket).await?;
    Ok(DeleteBucketCorsOutput::default())
}

pub(super) async fn get_bucket_website(
    api: &S3Api,
    input: GetBucketWebsiteInput,
) -> S3Result<GetBucketWebsiteOutput> {
    api.existing_bucket(&input.bucket).await?;
    Err(not_configured(
        "NoSuchWebsiteConfiguration",
        "The specified bucket does not have a website configuration",
    ))
}

pub(super) async fn delete_bucket_website(
    api: &S3Api,
    input: DeleteBucketWebsiteInput,
) -> S3Result<DeleteBucketWebsiteOutput> {
    api.existing_bucket(&input.bucket).await?;
    Ok(DeleteBucketWebsiteOutput::default())
}

/// Transfer Acceleration was never configured: an empty configuration.
pub(super) async fn get_bucket_accelerate_configuration(
    api: &S3Api,
    input: GetBucketAccelerateConfigurationInput,
) -> S3Result<GetBucketAccelerateConfigurationOutput> {
    api.existing_bucket(&input.bucket).await?;
    Ok(GetBucketAccelerateConfigurationOutput::default())
}

/// The bucket owner pays for requests.
pub(super) async fn get_bucket_request_payment(
    api: &S3Api,
    input: GetBucketRequestPaymentInput,
) -> S3Result<GetBucketRequestPaymentOutput> {
    api.existing_bucket(&input.bucket).await?;
    Ok(GetBucketRequestPaymentOutput {
        payer: Some(Payer::from_static(Payer::BUCKET_OWNER)),
    })
}

/// Server access logging is off: an empty `BucketLoggingStatus`.
pub(super) async fn get_bucket_logging(
    api: &S3Api,
    input: GetBucketLoggingInput,
) -> S3Result<GetBucketLoggingOutput> {
    api.existing_bucket(&input.bucket).await?;
    Ok(GetBucketLoggingOutput::default())
}

pub(super) async fn get_bucket_replication(
    api: &S3Api,
    input: GetBucketReplicationInput,
) -> S3Result<GetBucketReplicationOutput> {
    api.existing_bucket(&input.bucket).await?;
    Err(not_configured(
        "ReplicationConfigurationNotFoundError",
        "The replication configuration was not found",
    ))
}

pub(super) async fn delete_bucket_replication(
    api: &S3Api,
    input: DeleteBucketReplicationInput,
) -> S3Result<DeleteBucketReplicationOutput> {
    api.existing_bucket(&input.bucket).await?;
    Ok(DeleteBucketReplicationOutput::default())
}

pub(super) async fn get_object_lock_configuration(
    api: &S3Api,
    input: GetObjectLockConfigurationInput,
) -> S3Result<GetObjectLockConfigurationOutput> {
    api.existing_bucket(&input.bucket).await?;
    Err(not_configured(
        "ObjectLockConfigurationNotFoundError",
        "Object Lock configuration does not exist for this bucket",
    ))
}
