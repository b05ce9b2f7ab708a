//! Resource types that add to another resource's attributes (see
//! [`sagestack_engine::amend`]): which attributes they amend, and the value each adds,
//! kept among the amending resource's attributes under a name `Fn::GetAtt` cannot read
//! (it is not in the type's attribute list).
//!
//! From the EC2 documentation: a VPC's `Ipv6CidrBlocks` lists the IPv6 blocks associated
//! with it and its `CidrBlockAssociations` the association ids of its IPv4 blocks (the
//! primary one first); a subnet's `Ipv6CidrBlocks` lists its IPv6 blocks. Gateway and
//! route attachments change no attribute `Fn::GetAtt` reads, so they are not here.

use sagestack_engine::amend::Amend;

use super::*;

/// The amending resource's attribute holding the IPv6 block it adds.
const IPV6_BLOCK: &str = "Ipv6CidrBlock";
/// The amending resource's attribute holding the IPv4 association it adds.
const IPV4_ASSOCIATION: &str = "Ipv4CidrBlockAssociationId";

/// What resources of `type_name` add to other resources' attributes.
pub(crate) fn amends(type_name: &str) -> Vec<Amend> {
    let amend = |target_property: &str, target_type: &str, attribute: &str, value: &str| Amend {
        target_property: target_property.into(),
        target_type: target_type.into(),
        attribute: attribute.into(),
        value_attribute: value.into(),
    };
    match type_name {
        "AWS::EC2::VPCCidrBlock" => vec![
            amend("VpcId", "AWS::EC2::VPC", "Ipv6CidrBlocks", IPV6_BLOCK),
            amend(
                "VpcId",
                "AWS::EC2::VPC",
                "CidrBlockAssociations",
                IPV4_ASSOCIATION,
            ),
        ],
        "AWS::EC2::SubnetCidrBlock" => vec![amend(
            "SubnetId",
            "AWS::EC2::Subnet",
            "Ipv6CidrBlocks",
            IPV6_BLOCK,
        )],
        _ => Vec::new(),
    }
}

impl Generator<'_> {
    /// The values this resource adds to another's attributes (see [`amends`]): the IPv6
    /// block it associates (as given, else one drawn from Amazon's pool: a `/56` for a
    /// VPC, a `/64` for a subnet), or the association id of the IPv4 block it adds.
    pub(super) fn amending_attributes(&self, out: &mut Map<String, Value>) {
        let given = |p: &str| self.properties.get(p).is_some_and(|v| !v.is_null());
        let block = match self.type_name() {
            "AWS::EC2::VPCCidrBlock" => {
                if given("CidrBlock") || given("Ipv4IpamPoolId") {
                    let id = out.get("Id").cloned().unwrap_or(Value::Null);
                    out.insert(IPV4_ASSOCIATION.into(), id);
                    return;
                }
                56
            }
            "AWS::EC2::SubnetCidrBlock" => 64,
            _ => return,
        };
        let value = self.prop_str(IPV6_BLOCK).unwrap_or_else(|| {
            // Canonical text (no leading zeros), as `Fn::Cidr` writes the blocks it cuts.
            let mut rng = self.rng_for("ipv6-block");
            let mut group = |bits: u32| rng.next_u64() & ((1 << bits) - 1);
            let (pool, site) = (0x1f00 | group(8), group(16));
            // Never zero, which canonical text would fold into the `::`.
            let fourth = if block == 64 {
                1 + group(15)
            } else {
                (1 + group(7)) << 8
            };
            format!("2600:{pool:x}:{site:x}:{fourth:x}::/{block}")
        });
        out.insert(IPV6_BLOCK.into(), Value::String(value));
    }
}

#[cfg(test)]
mod tests {
    use super::amends;

    #[test]
    fn cidr_block_types_amend_their_vpc_or_subnet() {
        let vpc = amends("AWS::EC2::VPCCidrBlock");
        assert_eq!(vpc.len(), 2);
        assert!(
            vpc.iter()
                .all(|a| a.target_type == "AWS::EC2::VPC" && a.target_property == "VpcId")
        );
        assert_eq!(
            amends("AWS::EC2::SubnetCidrBlock")[0].attribute,
            "Ipv6CidrBlocks"
        );
        assert!(amends("AWS::EC2::VPC").is_empty());
    }
}
