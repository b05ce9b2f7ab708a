//! What a resource is called and what `Ref` / `Fn::GetAtt` return for it.
//!
//! Three questions, answered per type from the schema plus a few tables of facts from the
//! CloudFormation "Return values" documentation:
//!
//! 1. **The name.** The type's name property (`BucketName`, `QueueName`, `RoleName`...) when
//!    the template sets it, else a CloudFormation-style generated name.
//! 2. **The attributes.** Every `readOnlyProperties` entry gets a value shaped like the real
//!    one: the type's ARN in its service's format, service-style ids (`vpc-` + 17 hex),
//!    host names, URLs, timestamps.
//! 3. **The physical id** (`Ref`). By default the `primaryIdentifier` (joined with `|` when
//!    composite, as the registry does); [`REF_OVERRIDES`] lists the types whose `Ref`
//!    differs from it.
//!
//! All random parts come from one [`Rng`] per resource, so regenerating with the same
//! generator and properties gives the same values (the provider's update relies on this).
//!
//! This file holds the tables, names and the physical id; `attributes` the values of
//! `Fn::GetAtt`. Nothing here stores or calls anything: values are derived, never fetched.

use serde_json::{Map, Value, json};

use sagestack_engine::provider::ResourceContext;

use crate::naming::{Rng, physical_name};
use crate::schema::{ResourceSchema, types};

mod amends;
mod attributes;

pub(crate) use amends::amends;

/// `(type, what Ref returns)` for types whose `Ref` is not the primary identifier.
/// `Name` means the resource's name; anything else is an attribute name.
const REF_OVERRIDES: &[(&str, &str)] = &[
    ("AWS::Events::Rule", "Name"),
    ("AWS::CodeBuild::Project", "Name"),
    ("AWS::SageMaker::EndpointConfig", "Arn"),
    ("AWS::SageMaker::NotebookInstance", "Arn"),
    ("AWS::EC2::EIP", "PublicIp"),
    ("AWS::ECS::Service", "ServiceArn"),
    ("AWS::ApiGateway::Stage", "StageName"),
    ("AWS::ApiGateway::Deployment", "DeploymentId"),
    ("AWS::ApiGateway::Resource", "ResourceId"),
    ("AWS::Lambda::Permission", "Id"),
];

/// Types whose name property is not found by the generic rules below.
const NAME_PROPERTIES: &[(&str, &str)] = &[
    ("AWS::SageMaker::Model", "ModelName"),
    ("AWS::SageMaker::Endpoint", "EndpointName"),
    ("AWS::SageMaker::EndpointConfig", "EndpointConfigName"),
    ("AWS::SageMaker::NotebookInstance", "NotebookInstanceName"),
    ("AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupName"),
    ("AWS::SageMaker::Project", "ProjectName"),
    ("AWS::CodeCommit::Repository", "RepositoryName"),
    ("AWS::ECS::Service", "ServiceName"),
    ("AWS::ECS::TaskDefinition", "Family"),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "Name"),
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "Name"),
    ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"),
    ("AWS::IAM::Policy", "PolicyName"),
    ("AWS::SNS::Topic", "TopicName"),
    ("AWS::SQS::Queue", "QueueName"),
    ("AWS::StepFunctions::StateMachine", "StateMachineName"),
    ("AWS::SecretsManager::Secret", "Name"),
    ("AWS::Events::Rule", "Name"),
    ("AWS::CodeBuild::Project", "Name"),
    ("AWS::RDS::DBInstance", "DBInstanceIdentifier"),
    ("AWS::RDS::DBCluster", "DBClusterIdentifier"),
];

/// Name length limits the schemas do not state (from the services' documented limits).
const NAME_LIMITS: &[(&str, usize)] = &[
    ("AWS::S3::Bucket", 63),
    ("AWS::IAM::Role", 64),
    ("AWS::IAM::User", 64),
    ("AWS::IAM::InstanceProfile", 128),
    ("AWS::IAM::ManagedPolicy", 128),
    ("AWS::Lambda::Function", 64),
    ("AWS::SQS::Queue", 80),
    ("AWS::SNS::Topic", 256),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", 32),
    ("AWS::ElasticLoadBalancingV2::TargetGroup", 32),
    ("AWS::Events::Rule", 64),
    ("AWS::SageMaker::Model", 63),
    ("AWS::SageMaker::Endpoint", 63),
    ("AWS::SageMaker::EndpointConfig", 63),
    ("AWS::SageMaker::NotebookInstance", 63),
    ("AWS::RDS::DBInstance", 63),
];

/// Types that only take lowercase names.
const LOWERCASE_NAMES: &[&str] = &[
    "AWS::S3::Bucket",
    "AWS::ECR::Repository",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
    "AWS::ElastiCache::CacheCluster",
    "AWS::OpenSearchService::Domain",
    "AWS::Elasticsearch::Domain",
];

/// EC2-style id prefixes (`{prefix}{17 hex}`) by type.
const EC2_ID_PREFIXES: &[(&str, &str)] = &[
    ("AWS::EC2::VPC", "vpc-"),
    ("AWS::EC2::EIP", "eipalloc-"),
    ("AWS::EC2::Subnet", "subnet-"),
    ("AWS::EC2::SecurityGroup", "sg-"),
    ("AWS::EC2::InternetGateway", "igw-"),
    ("AWS::EC2::EgressOnlyInternetGateway", "eigw-"),
    ("AWS::EC2::NatGateway", "nat-"),
    ("AWS::EC2::RouteTable", "rtb-"),
    ("AWS::EC2::NetworkAcl", "acl-"),
    ("AWS::EC2::Instance", "i-"),
    ("AWS::EC2::VPCEndpoint", "vpce-"),
    ("AWS::EC2::LaunchTemplate", "lt-"),
    ("AWS::EC2::NetworkInterface", "eni-"),
    ("AWS::EC2::Volume", "vol-"),
    ("AWS::EC2::TransitGateway", "tgw-"),
    ("AWS::EC2::TransitGatewayAttachment", "tgw-attach-"),
    ("AWS::EC2::TransitGatewayVpcAttachment", "tgw-attach-"),
    ("AWS::EC2::TransitGatewayRouteTable", "tgw-rtb-"),
    ("AWS::EC2::VPNGateway", "vgw-"),
    ("AWS::EC2::CustomerGateway", "cgw-"),
    ("AWS::EC2::VPNConnection", "vpn-"),
    ("AWS::EC2::DHCPOptions", "dopt-"),
    ("AWS::EC2::VPCPeeringConnection", "pcx-"),
    ("AWS::EC2::SubnetRouteTableAssociation", "rtbassoc-"),
    ("AWS::EC2::GatewayRouteTableAssociation", "rtbassoc-"),
    ("AWS::EC2::SubnetNetworkAclAssociation", "aclassoc-"),
    ("AWS::EC2::SubnetCidrBlock", "subnet-cidr-assoc-"),
    ("AWS::EC2::VPCCidrBlock", "vpc-cidr-assoc-"),
    ("AWS::EC2::KeyPair", "key-"),
    ("AWS::EC2::PrefixList", "pl-"),
    ("AWS::EC2::FlowLog", "fl-"),
    ("AWS::EC2::SecurityGroupIngress", "sgr-"),
    ("AWS::EC2::SecurityGroupEgress", "sgr-"),
    ("AWS::EC2::PlacementGroup", "pg-"),
    ("AWS::EC2::CarrierGateway", "cagw-"),
    ("AWS::EC2::LocalGatewayRoute", "lgw-"),
    ("AWS::EFS::FileSystem", "fs-"),
    ("AWS::EFS::MountTarget", "fsmt-"),
    ("AWS::EFS::AccessPoint", "fsap-"),
];

/// Id prefixes for attributes that name another resource (`VpcId` on an instance).
const FOREIGN_ID_PREFIXES: &[(&str, &str)] = &[
    ("VpcId", "vpc-"),
    ("SubnetId", "subnet-"),
    ("DefaultSecurityGroup", "sg-"),
    ("GroupId", "sg-"),
    ("SecurityGroupId", "sg-"),
    ("DefaultNetworkAcl", "acl-"),
    ("NetworkAclAssociationId", "aclassoc-"),
    ("AllocationId", "eipalloc-"),
    ("NetworkInterfaceId", "eni-"),
    ("RouteTableId", "rtb-"),
    ("InstanceId", "i-"),
    ("ImageId", "ami-"),
];

fn lookup<T: Copy>(table: &[(&str, T)], key: &str) -> Option<T> {
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// `AWS::SQS::Queue` -> (`SQS`, `Queue`).
fn type_parts(type_name: &str) -> (&str, &str) {
    let mut it = type_name.split("::");
    let _vendor = it.next();
    let service = it.next().unwrap_or("");
    let resource = it.next().unwrap_or("");
    (service, resource)
}

/// `EndpointConfig` -> `endpoint-config`; `DBInstance` -> `db-instance`.
fn kebab(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev_lower = chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit();
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev_lower || (next_lower && chars[i - 1].is_ascii_uppercase()) {
                out.push('-');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The ARN service name for a CloudFormation service segment.
fn arn_service(service: &str) -> String {
    match service {
        "StepFunctions" => "states".into(),
        "ElasticLoadBalancingV2" | "ElasticLoadBalancing" => "elasticloadbalancing".into(),
        "CloudWatch" => "cloudwatch".into(),
        "Cognito" => "cognito-idp".into(),
        "KinesisFirehose" => "firehose".into(),
        "ApiGatewayV2" => "apigateway".into(),
        "OpenSearchService" | "Elasticsearch" => "es".into(),
        "CertificateManager" => "acm".into(),
        "ServiceDiscovery" => "servicediscovery".into(),
        "EventSchemas" => "schemas".into(),
        other => other.to_ascii_lowercase(),
    }
}

/// The DNS suffix of the partition.
fn dns_suffix(partition: &str) -> &'static str {
    if partition == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// The type's name property, if it has one the template may set.
pub(crate) fn name_property(schema: &ResourceSchema) -> Option<String> {
    let type_name = schema.type_name();
    let writable = |p: &str| {
        let pointer = format!("/properties/{p}");
        schema.node(schema.root).property(p).is_some()
            && !schema.read_only_properties().contains(&pointer)
    };
    if let Some(p) = lookup(NAME_PROPERTIES, type_name) {
        return writable(p).then(|| p.to_string());
    }
    if let [only] = schema.primary_identifier()
        && let Some(p) = only.strip_prefix("/properties/")
        && !p.contains('/')
        && writable(p)
        && (p.ends_with("Name") || p == "Name" || p.ends_with("Identifier"))
    {
        return Some(p.to_string());
    }
    let (_, resource) = type_parts(type_name);
    [format!("{resource}Name"), "Name".to_string()]
        .into_iter()
        .find(|p| writable(p))
}

/// (max length, lowercase?) for generated names of this type.
fn name_rules(schema: &ResourceSchema, name_prop: Option<&str>) -> (usize, bool) {
    let type_name = schema.type_name();
    let schema_max = name_prop
        .and_then(|p| schema.node_at(&format!("/properties/{p}")))
        .and_then(|id| schema.node(id).max_length)
        .map(|m| m as usize);
    let max = lookup(NAME_LIMITS, type_name)
        .or(schema_max)
        .unwrap_or(128)
        .max(16);
    (max, LOWERCASE_NAMES.contains(&type_name))
}

/// The resource's name: the name property's value when set, else a generated one.
pub(crate) fn resource_name(
    schema: &ResourceSchema,
    ctx: &ResourceContext,
    properties: &Value,
    rng: &mut Rng,
) -> String {
    let name_prop = name_property(schema);
    if let Some(p) = &name_prop
        && let Some(v) = properties.get(p.as_str())
        && let Some(s) = scalar_text(v)
    {
        return s;
    }
    let (max, lowercase) = name_rules(schema, name_prop.as_deref());
    let suffix = rng.upper_alnum(crate::naming::SUFFIX_LEN);
    physical_name(&ctx.stack_name, &ctx.logical_id, &suffix, max, lowercase)
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Builds one resource's attributes and physical id.
pub(crate) struct Generator<'a> {
    pub ctx: &'a ResourceContext,
    pub schema: &'a ResourceSchema,
    pub properties: &'a Value,
    pub name: String,
    pub rng: Rng,
    /// RFC 3339 time used for every timestamp attribute.
    pub now: String,
}

impl Generator<'_> {
    fn type_name(&self) -> &str {
        self.schema.type_name()
    }

    fn prop_str(&self, name: &str) -> Option<String> {
        self.properties.get(name).and_then(scalar_text)
    }

    /// A random sub-generator for one purpose: the same purpose always gets the same values.
    fn rng_for(&self, purpose: &str) -> Rng {
        self.rng.fork(purpose)
    }

    /// An ARN in the context's partition: global services leave the region empty, and S3
    /// and Route 53 the account too.
    fn arn(&self, service: &str, resource: &str) -> String {
        let (region, account) = match service {
            "s3" | "route53" => ("", ""),
            "iam" | "cloudfront" | "organizations" => ("", self.ctx.account_id.as_str()),
            _ => (self.ctx.region.as_str(), self.ctx.account_id.as_str()),
        };
        format!(
            "arn:{}:{service}:{region}:{account}:{resource}",
            self.ctx.partition
        )
    }

    fn host(&self, service: &str) -> String {
        format!(
            "{service}.{}.{}",
            self.ctx.region,
            dns_suffix(&self.ctx.partition)
        )
    }

    fn iam_path(&self) -> String {
        self.prop_str("Path").unwrap_or_else(|| "/".into())
    }

    /// The resource's own id when the type has a service-specific id format.
    pub fn own_id(&self) -> String {
        let t = self.type_name();
        let mut rng = self.rng_for("own-id");
        if let Some(prefix) = lookup(EC2_ID_PREFIXES, t) {
            return format!("{prefix}{}", rng.hex(17));
        }
        match t {
            "AWS::KMS::Key" | "AWS::CodeCommit::Repository" | "AWS::Lambda::EventSourceMapping" => {
                rng.uuid()
            }
            "AWS::Route53::HostedZone" => format!("Z{}", rng.upper_alnum(20)),
            "AWS::CloudFront::Distribution" => format!("E{}", rng.upper_alnum(13)),
            "AWS::Cognito::UserPool" => format!("{}_{}", self.ctx.region, rng.upper_alnum(9)),
            "AWS::SageMaker::Project" => format!("p-{}", rng.lower_alnum(12)),
            "AWS::SageMaker::Domain" => format!("d-{}", rng.lower_alnum(12)),
            "AWS::SecretsManager::Secret" => self.own_arn(),
            "AWS::CloudFormation::WaitConditionHandle" => format!(
                "https://cloudformation-waitcondition-{}.s3.{}/{}",
                self.ctx.region,
                dns_suffix(&self.ctx.partition),
                rng.lower_alnum(24)
            ),
            _ if t.starts_with("AWS::ApiGateway") => rng.lower_alnum(10),
            _ => self.name.clone(),
        }
    }

    /// The resource's own ARN.
    pub fn own_arn(&self) -> String {
        let t = self.type_name();
        let (service, resource) = type_parts(t);
        let name = &self.name;
        let lower = name.to_lowercase();
        let mut rng = self.rng_for("arn");
        let r = |svc: &str, res: String| self.arn(svc, &res);
        match t {
            "AWS::S3::Bucket" => r("s3", name.clone()),
            "AWS::IAM::Role" => r("iam", format!("role{}{name}", self.iam_path())),
            "AWS::IAM::User" => r("iam", format!("user{}{name}", self.iam_path())),
            "AWS::IAM::Group" => r("iam", format!("group{}{name}", self.iam_path())),
            "AWS::IAM::ManagedPolicy" => r("iam", format!("policy{}{name}", self.iam_path())),
            "AWS::IAM::InstanceProfile" => {
                r("iam", format!("instance-profile{}{name}", self.iam_path()))
            }
            "AWS::SQS::Queue"
            | "AWS::SNS::Topic"
            | "AWS::CodePipeline::Pipeline"
            | "AWS::CodeCommit::Repository" => r(&arn_service(service), name.clone()),
            "AWS::SNS::Subscription" => match self.prop_str("TopicArn") {
                Some(topic) if topic.starts_with("arn:") => format!("{topic}:{}", rng.uuid()),
                _ => r("sns", format!("{name}:{}", rng.uuid())),
            },
            "AWS::Lambda::Function" => r("lambda", format!("function:{name}")),
            "AWS::Lambda::LayerVersion" => r("lambda", format!("layer:{name}:1")),
            "AWS::SSM::Parameter" => {
                r("ssm", format!("parameter/{}", name.trim_start_matches('/')))
            }
            "AWS::KMS::Key" => r("kms", format!("key/{}", self.own_id())),
            "AWS::KMS::Alias" => r("kms", name.clone()),
            "AWS::Logs::LogGroup" => r("logs", format!("log-group:{name}:*")),
            "AWS::StepFunctions::StateMachine" => r("states", format!("stateMachine:{name}")),
            "AWS::StepFunctions::Activity" => r("states", format!("activity:{name}")),
            "AWS::SecretsManager::Secret" => r(
                "secretsmanager",
                format!("secret:{name}-{}", rng.lower_alnum(6)),
            ),
            "AWS::CloudWatch::Alarm" => r("cloudwatch", format!("alarm:{name}")),
            "AWS::ECS::Service" => {
                let cluster = self
                    .prop_str("Cluster")
                    .map(|c| c.rsplit('/').next().unwrap_or(&c).to_string())
                    .unwrap_or_else(|| "default".into());
                r("ecs", format!("service/{cluster}/{name}"))
            }
            "AWS::ECS::TaskDefinition" => r("ecs", format!("task-definition/{name}:1")),
            "AWS::ElasticLoadBalancingV2::LoadBalancer" => {
                let kind = match self.prop_str("Type").as_deref() {
                    Some("network") => "net",
                    Some("gateway") => "gwy",
                    _ => "app",
                };
                r(
                    "elasticloadbalancing",
                    format!("loadbalancer/{kind}/{name}/{}", rng.hex(16)),
                )
            }
            "AWS::ElasticLoadBalancingV2::TargetGroup" => r(
                "elasticloadbalancing",
                format!("targetgroup/{name}/{}", rng.hex(16)),
            ),
            "AWS::AutoScaling::AutoScalingGroup" => r(
                "autoscaling",
                format!(
                    "autoScalingGroup:{}:autoScalingGroupName/{name}",
                    rng.uuid()
                ),
            ),
            "AWS::RDS::DBInstance" => r("rds", format!("db:{lower}")),
            "AWS::RDS::DBCluster" => r("rds", format!("cluster:{lower}")),
            "AWS::ApiGateway::RestApi" => format!(
                "arn:{}:apigateway:{}::/restapis/{}",
                self.ctx.partition,
                self.ctx.region,
                self.own_id()
            ),
            "AWS::Route53::HostedZone" => r("route53", format!("hostedzone/{}", self.own_id())),
            "AWS::Events::EventBus" => r("events", format!("event-bus/{name}")),
            "AWS::Events::Rule" => match self.prop_str("EventBusName") {
                Some(bus) if bus != "default" && !bus.starts_with("arn:") => {
                    r("events", format!("rule/{bus}/{name}"))
                }
                _ => r("events", format!("rule/{name}")),
            },
            "AWS::KinesisFirehose::DeliveryStream" => {
                r("firehose", format!("deliverystream/{name}"))
            }
            _ if service == "SageMaker" => r("sagemaker", format!("{}/{lower}", kebab(resource))),
            _ if service == "EC2" || lookup(EC2_ID_PREFIXES, t).is_some() => r(
                &arn_service(service),
                format!("{}/{}", kebab(resource), self.own_id()),
            ),
            _ => r(&arn_service(service), format!("{}/{name}", kebab(resource))),
        }
    }

    /// What `Ref` returns, given the attributes already computed.
    pub fn physical_id(&self, attributes: &Map<String, Value>) -> String {
        let value_of = |name: &str| -> Option<String> {
            if name == "Name" && !attributes.contains_key("Name") {
                return Some(self.name.clone());
            }
            if name == "Arn" && !attributes.contains_key("Arn") {
                return Some(self.own_arn());
            }
            attributes
                .get(name)
                .and_then(scalar_text)
                .or_else(|| self.prop_str(name))
        };
        if let Some(what) = lookup(REF_OVERRIDES, self.type_name())
            && let Some(v) = value_of(what)
        {
            return v;
        }
        let name_prop = name_property(self.schema);
        let parts: Vec<String> = self
            .schema
            .primary_identifier()
            .iter()
            .filter_map(|p| crate::schema::attribute_name(p))
            .map(|attr| {
                attributes
                    .get(&attr)
                    .and_then(scalar_text)
                    .or_else(|| self.prop_str(&attr))
                    .or_else(|| {
                        (name_prop.as_deref() == Some(attr.as_str())).then(|| self.name.clone())
                    })
                    .unwrap_or_else(|| self.name.clone())
            })
            .collect();
        if parts.is_empty() {
            self.name.clone()
        } else {
            parts.join("|")
        }
    }
}

/// A DNS label from a resource name.
fn host_label(name: &str) -> String {
    let label: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    label.trim_matches('-').to_string()
}

/// The enum value a settled resource reports (`Active`, `InService`...), else the first.
fn pick_steady_state(values: &[Value]) -> Value {
    const STEADY: &[&str] = &[
        "active",
        "available",
        "inservice",
        "createcompleted",
        "completed",
        "succeeded",
        "ready",
        "enabled",
        "running",
        "create_complete",
    ];
    for want in STEADY {
        if let Some(v) = values
            .iter()
            .find(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(want)))
        {
            return v.clone();
        }
    }
    values.first().cloned().unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_case_follows_arn_resource_names() {
        assert_eq!(kebab("EndpointConfig"), "endpoint-config");
        assert_eq!(kebab("DBInstance"), "db-instance");
        assert_eq!(kebab("VPC"), "vpc");
        assert_eq!(kebab("ModelPackageGroup"), "model-package-group");
    }

    #[test]
    fn steady_states_are_preferred() {
        assert_eq!(
            pick_steady_state(&[json!("Pending"), json!("InService")]),
            json!("InService")
        );
        assert_eq!(pick_steady_state(&[json!("X")]), json!("X"));
    }
}
