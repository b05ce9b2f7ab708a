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

use serde_json::{Map, Value, json};

use sagestack_engine::provider::ResourceContext;

use crate::naming::{Rng, physical_name};
use crate::schema::{ResourceSchema, types};

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

    /// Is `attr` (a top-level attribute name) the resource's own ARN?
    fn is_own_arn(&self, attr: &str, format: Option<&str>) -> bool {
        let (_, resource) = type_parts(self.type_name());
        attr == "Arn"
            || attr.eq_ignore_ascii_case(&format!("{resource}Arn"))
            || format == Some(&format!("{}.Arn", self.type_name()))
            || self
                .schema
                .primary_identifier()
                .iter()
                .any(|p| p == &format!("/properties/{attr}"))
    }

    /// Is `attr` the resource's own id?
    fn is_own_id(&self, attr: &str, format: Option<&str>) -> bool {
        let (_, resource) = type_parts(self.type_name());
        attr == "Id"
            || attr == format!("{resource}Id")
            || format == Some(&format!("{}.Id", self.type_name()))
            || (self.type_name() == "AWS::EC2::SecurityGroup" && attr == "GroupId")
            || (self.type_name() == "AWS::EC2::EIP" && attr == "AllocationId")
    }

    /// Values for the attributes that need a per-type rule.
    fn special(&self, attr: &str) -> Option<Value> {
        let t = self.type_name();
        let name = &self.name;
        let suffix = dns_suffix(&self.ctx.partition);
        let region = &self.ctx.region;
        let account = &self.ctx.account_id;
        let s = |v: String| Some(Value::String(v));
        match (t, attr) {
            ("AWS::S3::Bucket", "DomainName") => s(format!("{name}.s3.{suffix}")),
            ("AWS::S3::Bucket", "RegionalDomainName") => s(format!("{name}.s3.{region}.{suffix}")),
            ("AWS::S3::Bucket", "DualStackDomainName") => {
                s(format!("{name}.s3.dualstack.{region}.{suffix}"))
            }
            ("AWS::S3::Bucket", "WebsiteURL") => {
                s(format!("http://{name}.s3-website-{region}.{suffix}"))
            }
            ("AWS::SQS::Queue", "QueueUrl") => {
                s(format!("https://sqs.{region}.{suffix}/{account}/{name}"))
            }
            ("AWS::ECR::Repository", "RepositoryUri") => {
                s(format!("{account}.dkr.ecr.{region}.{suffix}/{name}"))
            }
            ("AWS::IAM::Role", "RoleId") => {
                s(format!("AROA{}", self.rng_for(attr).upper_alnum(17)))
            }
            ("AWS::IAM::User", "UserId") => {
                s(format!("AIDA{}", self.rng_for(attr).upper_alnum(17)))
            }
            ("AWS::IAM::ManagedPolicy", "PolicyId") => {
                s(format!("ANPA{}", self.rng_for(attr).upper_alnum(17)))
            }
            ("AWS::IAM::ManagedPolicy", "DefaultVersionId") => s("v1".into()),
            ("AWS::IAM::ManagedPolicy", "IsAttachable") => Some(Value::Bool(true)),
            ("AWS::DynamoDB::Table", "StreamArn") => s(format!(
                "{}/stream/{}",
                self.own_arn(),
                self.now.trim_end_matches('Z')
            )),
            ("AWS::CodeCommit::Repository", "CloneUrlHttp") => s(format!(
                "https://git-codecommit.{region}.{suffix}/v1/repos/{name}"
            )),
            ("AWS::CodeCommit::Repository", "CloneUrlSsh") => s(format!(
                "ssh://git-codecommit.{region}.{suffix}/v1/repos/{name}"
            )),
            ("AWS::CodeCommit::Repository", "Name") => s(name.clone()),
            ("AWS::Route53::HostedZone", "NameServers") => {
                let mut rng = self.rng_for(attr);
                Some(json!([
                    format!("ns-{}.awsdns-{}.com", rng.digits(3), rng.digits(2)),
                    format!("ns-{}.awsdns-{}.net", rng.digits(3), rng.digits(2)),
                    format!("ns-{}.awsdns-{}.org", rng.digits(4), rng.digits(2)),
                    format!("ns-{}.awsdns-{}.co.uk", rng.digits(4), rng.digits(2)),
                ]))
            }
            ("AWS::ElasticLoadBalancingV2::LoadBalancer", "DNSName") => s(format!(
                "{}-{}.{region}.elb.{suffix}",
                host_label(name),
                self.rng_for(attr).digits(10)
            )),
            ("AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancerFullName") => {
                let arn = self.own_arn();
                s(arn
                    .split_once(":loadbalancer/")
                    .map(|(_, r)| r.to_string())
                    .unwrap_or_default())
            }
            ("AWS::ElasticLoadBalancingV2::LoadBalancer", "CanonicalHostedZoneID") => {
                s(format!("Z{}", self.rng_for(attr).upper_alnum(13)))
            }
            ("AWS::RDS::DBInstance", "Endpoint.Address") => s(format!(
                "{}.{}.{region}.rds.{suffix}",
                name.to_lowercase(),
                self.rng_for("rds-host").lower_alnum(12)
            )),
            ("AWS::RDS::DBInstance", "Endpoint.Port") => {
                let engine = self.prop_str("Engine").unwrap_or_default().to_lowercase();
                let port = if engine.contains("postgres") {
                    "5432"
                } else if engine.contains("sqlserver") {
                    "1433"
                } else if engine.contains("oracle") {
                    "1521"
                } else {
                    "3306"
                };
                s(self.prop_str("Port").unwrap_or_else(|| port.into()))
            }
            ("AWS::Lambda::Function", "SnapStartResponse") => Some(json!({
                "ApplyOn": self.properties.pointer("/SnapStart/ApplyOn").cloned()
                    .unwrap_or_else(|| json!("None")),
                "OptimizationStatus": "Off",
            })),
            ("AWS::Lambda::Function", "SnapStartResponse.ApplyOn") => Some(
                self.properties
                    .pointer("/SnapStart/ApplyOn")
                    .cloned()
                    .unwrap_or_else(|| json!("None")),
            ),
            ("AWS::Lambda::Function", "SnapStartResponse.OptimizationStatus") => s("Off".into()),
            ("AWS::EC2::VPC", "CidrBlockAssociations") => Some(json!([format!(
                "vpc-cidr-assoc-{}",
                self.rng_for(attr).hex(17)
            )])),
            ("AWS::EC2::VPC", "Ipv6CidrBlocks") | ("AWS::EC2::Subnet", "Ipv6CidrBlocks") => {
                Some(json!([]))
            }
            (
                "AWS::DirectoryService::MicrosoftAD" | "AWS::DirectoryService::SimpleAD",
                "DnsIpAddresses",
            ) => {
                // A directory runs two domain controllers, one per subnet, each a DNS server.
                let mut rng = self.rng_for(attr);
                let third = rng.next_u64() % 256;
                Some(json!([
                    format!("10.0.{third}.10"),
                    format!("10.0.{third}.138")
                ]))
            }
            ("AWS::EC2::NetworkInterface", "SecondaryPrivateIpAddresses") => {
                // The explicit non-primary addresses, else as many as
                // SecondaryPrivateIpAddressCount asks AWS to assign.
                let given: Vec<Value> = self
                    .properties
                    .get("PrivateIpAddresses")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|a| {
                        a.get("Primary")
                            .and_then(scalar_text)
                            .is_none_or(|p| p != "true")
                    })
                    .filter_map(|a| a.get("PrivateIpAddress").cloned())
                    .collect();
                if !given.is_empty() {
                    return Some(Value::Array(given));
                }
                let n = self
                    .prop_str("SecondaryPrivateIpAddressCount")
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
                    .min(50);
                let mut rng = self.rng_for(attr);
                let third = rng.next_u64() % 256;
                Some(Value::Array(
                    (0..n)
                        .map(|i| Value::String(format!("10.0.{third}.{}", 10 + i)))
                        .collect(),
                ))
            }
            ("AWS::EC2::Instance", "State") => Some(json!({"Code": "16", "Name": "running"})),
            ("AWS::Cognito::UserPool", "ProviderName") => {
                s(format!("cognito-idp.{region}.{suffix}/{}", self.own_id()))
            }
            ("AWS::Cognito::UserPool", "ProviderURL") => s(format!(
                "https://cognito-idp.{region}.{suffix}/{}",
                self.own_id()
            )),
            ("AWS::Cognito::UserPool", "Arn") => {
                s(self.arn("cognito-idp", &format!("userpool/{}", self.own_id())))
            }
            ("AWS::ApiGateway::RestApi", "RootResourceId") => s(self.rng_for(attr).lower_alnum(10)),
            ("AWS::EC2::EIP", "PublicIp") => {
                let mut rng = self.rng_for(attr);
                s(format!("203.0.113.{}", 1 + rng.next_u64() % 254))
            }
            _ => None,
        }
    }

    /// A value for the read-only property at `pointer` (`/properties/A/B`).
    fn attribute(&self, pointer: &str, attr: &str) -> Value {
        self.attribute_at(pointer, attr, 0)
    }

    fn attribute_at(&self, pointer: &str, attr: &str, depth: usize) -> Value {
        if let Some(v) = self.special(attr) {
            return v;
        }
        let node = self.schema.node_at(pointer).map(|id| self.schema.node(id));
        let format = node.and_then(|n| n.format.as_deref());
        let ty = node.map(|n| n.types).unwrap_or(0);
        let leaf = attr.rsplit('.').next().unwrap_or(attr);
        let top_level = !attr.contains('.');
        let mut rng = self.rng_for(attr);
        let s = Value::String;

        if ty & types::ARRAY != 0 && ty & types::STRING == 0 {
            return json!([]);
        }
        if ty & types::OBJECT != 0 && ty & types::STRING == 0 {
            // Built from the nested read-only entries, when the schema lists them.
            let prefix = format!("{pointer}/");
            let mut obj = Map::new();
            for child in self.schema.read_only_properties() {
                if let Some(rest) = child.strip_prefix(&prefix)
                    && !rest.contains('/')
                {
                    let child_attr = format!("{attr}.{rest}");
                    obj.insert(
                        rest.to_string(),
                        self.attribute_at(child, &child_attr, depth + 1),
                    );
                }
            }
            if obj.is_empty() && depth < 3 {
                // No nested entries listed: shape the object from its schema properties.
                if let Some(n) = node {
                    for (child, _) in &n.properties {
                        let child_attr = format!("{attr}.{child}");
                        let child_pointer = format!("{pointer}/{child}");
                        obj.insert(
                            child.clone(),
                            self.attribute_at(&child_pointer, &child_attr, depth + 1),
                        );
                    }
                }
            }
            return Value::Object(obj);
        }

        let ends = |suffixes: &[&str]| suffixes.iter().any(|x| leaf.ends_with(x));
        if ends(&["Arn", "ARN"]) {
            if top_level && self.is_own_arn(leaf, format) {
                return s(self.own_arn());
            }
            if let Some(other) = format.and_then(|f| f.strip_suffix(".Arn")) {
                let (service, resource) = type_parts(other);
                return s(self.arn(
                    &arn_service(service),
                    &format!("{}/{}", kebab(resource), rng.lower_alnum(12)),
                ));
            }
            let what = leaf.trim_end_matches("Arn").trim_end_matches("ARN");
            return s(format!(
                "{}/{}/{}",
                self.own_arn(),
                kebab(what),
                rng.lower_alnum(12)
            ));
        }
        if top_level && self.is_own_id(leaf, format) {
            return s(self.own_id());
        }
        if let Some(other) = format.and_then(|f| f.strip_suffix(".Id"))
            && let Some(prefix) = lookup(EC2_ID_PREFIXES, other)
        {
            return s(format!("{prefix}{}", rng.hex(17)));
        }
        if let Some(prefix) = lookup(FOREIGN_ID_PREFIXES, leaf) {
            return s(format!("{prefix}{}", rng.hex(17)));
        }
        if ty & types::INTEGER != 0 || ty & types::NUMBER != 0 {
            return if leaf.ends_with("Port") {
                json!(443)
            } else {
                json!(0)
            };
        }
        if ty & types::BOOLEAN != 0 {
            return Value::Bool(false);
        }
        if let Some(values) = node.and_then(|n| n.enum_values.as_ref()) {
            return pick_steady_state(values);
        }
        let (service, _) = type_parts(self.type_name());
        let svc = arn_service(service);
        if ends(&[
            "DomainName",
            "DNSName",
            "DnsName",
            "Address",
            "Hostname",
            "HostName",
        ]) || leaf == "Endpoint"
            || leaf.ends_with("EndpointAddress")
        {
            return s(format!("{}.{}", host_label(&self.name), self.host(&svc)));
        }
        if ends(&["Url", "URL", "Uri", "URI"]) || format == Some("uri") {
            return s(format!("https://{}/{}", self.host(&svc), self.name));
        }
        if ends(&["Id", "ID"]) {
            return s(rng.lower_alnum(16));
        }
        if leaf.ends_with("Name") {
            return s(self.name.clone());
        }
        if ends(&["PublicIp", "PublicIpAddress"]) {
            return s(format!("203.0.113.{}", 1 + rng.next_u64() % 254));
        }
        if ends(&["Ip", "IpAddress", "PrivateIp"]) {
            return s(format!(
                "10.0.{}.{}",
                rng.next_u64() % 256,
                1 + rng.next_u64() % 254
            ));
        }
        if leaf.ends_with("Port") {
            return s("443".into());
        }
        if ends(&["Time", "Date", "Timestamp", "At"]) || format == Some("date-time") {
            return s(self.now.clone());
        }
        if ends(&["Status", "State"]) {
            return s("Active".into());
        }
        if leaf.ends_with("Version") {
            return s("1".into());
        }
        if format == Some("ipv4-network") || leaf.ends_with("CidrBlock") {
            return self
                .properties
                .pointer(&pointer["/properties".len()..])
                .cloned()
                .unwrap_or_else(|| s("10.0.0.0/16".into()));
        }
        s(rng.lower_alnum(12))
    }

    /// Every read-only attribute, keyed by its `Fn::GetAtt` name, then the settable
    /// properties `Fn::GetAtt` also reads (see [`Generator::property_attributes`]).
    pub fn attributes(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for pointer in self.schema.read_only_properties() {
            if let Some(attr) = crate::schema::attribute_name(pointer)
                && crate::schema::is_attribute_pointer(pointer)
            {
                let v = self.attribute(pointer, &attr);
                out.insert(attr, v);
            }
        }
        self.property_attributes(&mut out);
        out
    }

    /// CloudFormation's `Fn::GetAtt` also reads a resource's top-level properties that are
    /// not write-only and hold a scalar or a list (`AWS::SQS::Queue.QueueName`,
    /// `AWS::SNS::Topic.TopicName`, `AWS::EC2::Subnet.AvailabilityZone` are documented
    /// return values though the schemas do not list them as read-only). The value is the
    /// one the resource has: the property as given, the generated name for the name
    /// property, and for an unset `AvailabilityZone` the zone AWS would pick (the
    /// region's first).
    fn property_attributes(&self, out: &mut Map<String, Value>) {
        let Some(root) = self.schema.nodes.get(self.schema.root) else {
            return;
        };
        let name_prop = name_property(self.schema);
        for (prop, id) in &root.properties {
            if out.contains_key(prop) {
                continue;
            }
            let pointer = format!("/properties/{prop}");
            if self.schema.write_only_properties().contains(&pointer) {
                continue;
            }
            let node = self.schema.node(self.schema.resolved(*id));
            if node.types & (types::OBJECT) != 0 && node.types & types::STRING == 0 {
                continue;
            }
            let value = match self.properties.get(prop) {
                Some(v) if !v.is_object() => Some(v.clone()),
                Some(_) => None,
                None if name_prop.as_deref() == Some(prop.as_str()) => {
                    Some(Value::String(self.name.clone()))
                }
                None if prop == "AvailabilityZone" => {
                    Some(Value::String(format!("{}a", self.ctx.region)))
                }
                None => None,
            };
            if let Some(v) = value {
                out.insert(prop.clone(), v);
            }
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
