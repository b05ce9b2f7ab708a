//! The `Fn::GetAtt` values of a generated resource: its own ARN and id wherever the
//! schema names them, the special cases from the documentation, and a value shaped like
//! the real one for every other read-only property. Never random beyond the resource's
//! own [`Rng`]: the same inputs give the same attributes.

use super::*;

impl Generator<'_> {
    /// Is `attr` (a top-level attribute name) the resource's own ARN?
    pub(super) fn is_own_arn(&self, attr: &str, format: Option<&str>) -> bool {
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
    pub(super) fn is_own_id(&self, attr: &str, format: Option<&str>) -> bool {
        let (_, resource) = type_parts(self.type_name());
        attr == "Id"
            || attr == format!("{resource}Id")
            || format == Some(&format!("{}.Id", self.type_name()))
            || (self.type_name() == "AWS::EC2::SecurityGroup" && attr == "GroupId")
            || (self.type_name() == "AWS::EC2::EIP" && attr == "AllocationId")
    }

    /// Values for the attributes that need a per-type rule.
    pub(super) fn special(&self, attr: &str) -> Option<Value> {
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
            // A VPC gets IPv6 blocks only from `AWS::EC2::VPCCidrBlock`s (added where
            // `Fn::GetAtt` reads them, see `amends.rs`); a subnet may be given one.
            ("AWS::EC2::VPC", "Ipv6CidrBlocks") => Some(json!([])),
            ("AWS::EC2::Subnet", "Ipv6CidrBlocks") => Some(json!(
                self.prop_str("Ipv6CidrBlock")
                    .into_iter()
                    .collect::<Vec<_>>()
            )),
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
    pub(super) fn attribute(&self, pointer: &str, attr: &str) -> Value {
        self.attribute_at(pointer, attr, 0)
    }

    pub(super) fn attribute_at(&self, pointer: &str, attr: &str, depth: usize) -> Value {
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
        self.amending_attributes(&mut out);
        out
    }

    /// CloudFormation's `Fn::GetAtt` also reads a resource's top-level properties that are
    /// not write-only and hold a scalar or a list (`AWS::SQS::Queue.QueueName`,
    /// `AWS::SNS::Topic.TopicName`, `AWS::EC2::Subnet.AvailabilityZone` are documented
    /// return values though the schemas do not list them as read-only). The value is the
    /// one the resource has: the property as given, the generated name for the name
    /// property, and for an unset `AvailabilityZone` the zone AWS would pick (the
    /// region's first).
    pub(super) fn property_attributes(&self, out: &mut Map<String, Value>) {
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
}
