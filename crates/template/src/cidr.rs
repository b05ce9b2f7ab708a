//! `Fn::Cidr`: split an address block into `count` subnets with `cidr_bits` host bits each.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The first `count` subnets of `block` (e.g. `10.0.0.0/16`), each with `cidr_bits` host
/// bits (so a `/ (32 - cidr_bits)` for IPv4, `/ (128 - cidr_bits)` for IPv6).
pub fn cidr(block: &str, count: u64, cidr_bits: u64) -> Result<Vec<String>, String> {
    let (addr, prefix) = block
        .split_once('/')
        .ok_or_else(|| format!("Fn::Cidr: '{block}' is not a CIDR block"))?;
    let addr: IpAddr = addr
        .trim()
        .parse()
        .map_err(|_| format!("Fn::Cidr: '{block}' is not a CIDR block"))?;
    let prefix: u32 = prefix
        .trim()
        .parse()
        .map_err(|_| format!("Fn::Cidr: '{block}' is not a CIDR block"))?;
    let width: u32 = if addr.is_ipv4() { 32 } else { 128 };
    if prefix > width {
        return Err(format!("Fn::Cidr: '{block}' has an invalid prefix length"));
    }
    if !(1..=256).contains(&count) {
        return Err("Fn::Cidr: count must be between 1 and 256".into());
    }
    if cidr_bits as u32 > width - prefix || cidr_bits == 0 && count > 1 {
        return Err(format!(
            "Fn::Cidr: cidrBits {cidr_bits} does not fit in '{block}' (at most {})",
            width - prefix
        ));
    }
    let cidr_bits = cidr_bits as u32;
    let available_bits = width - prefix - cidr_bits;
    if available_bits < 64 && count > (1u128 << available_bits) as u64 {
        return Err(format!(
            "Fn::Cidr: '{block}' cannot hold {count} subnets of {cidr_bits} host bits"
        ));
    }
    let base: u128 = match addr {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    };
    let host_mask: u128 = if width - prefix == 128 {
        u128::MAX
    } else {
        (1u128 << (width - prefix)) - 1
    };
    let network = base & !host_mask;
    let step: u128 = 1u128 << cidr_bits;
    let new_prefix = width - cidr_bits;
    Ok((0..count as u128)
        .map(|i| {
            let a = network + i * step;
            match addr {
                IpAddr::V4(_) => format!("{}/{new_prefix}", Ipv4Addr::from(a as u32)),
                IpAddr::V6(_) => format!("{}/{new_prefix}", Ipv6Addr::from(a)),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_subnets() {
        assert_eq!(
            cidr("192.168.0.0/24", 6, 5).unwrap(),
            [
                "192.168.0.0/27",
                "192.168.0.32/27",
                "192.168.0.64/27",
                "192.168.0.96/27",
                "192.168.0.128/27",
                "192.168.0.160/27"
            ]
        );
        assert_eq!(
            cidr("10.0.5.7/16", 2, 8).unwrap(),
            ["10.0.0.0/24", "10.0.1.0/24"]
        );
    }

    #[test]
    fn ipv6_subnets() {
        assert_eq!(
            cidr("2001:db8::/56", 3, 64).unwrap(),
            ["2001:db8::/64", "2001:db8:0:1::/64", "2001:db8:0:2::/64"]
        );
    }

    proptest::proptest! {
        /// Subnets are aligned, consecutive, disjoint and inside the block.
        #[test]
        fn ipv4_subnets_tile_the_block(a in proptest::prelude::any::<u32>(), prefix in 0u32..=30, bits in 1u64..=8, count in 1u64..=256) {
            let block = format!("{}/{prefix}", Ipv4Addr::from(a));
            match cidr(&block, count, bits) {
                Ok(subnets) => {
                    proptest::prop_assert_eq!(subnets.len() as u64, count);
                    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
                    let mut expected = a & mask;
                    for s in &subnets {
                        let (addr, len) = s.split_once('/').unwrap();
                        let addr = u32::from(addr.parse::<Ipv4Addr>().unwrap());
                        proptest::prop_assert_eq!(len.parse::<u64>().unwrap(), 32 - bits);
                        proptest::prop_assert_eq!(addr, expected);
                        proptest::prop_assert_eq!(addr & mask, a & mask);
                        expected = expected.wrapping_add(1 << bits);
                    }
                }
                Err(_) => proptest::prop_assert!(bits as u32 > 32 - prefix || count > 1u64 << (32 - prefix - bits as u32).min(63)),
            }
        }
    }

    #[test]
    fn rejects_what_does_not_fit() {
        assert!(cidr("10.0.0.0/24", 3, 8).is_err());
        assert!(cidr("10.0.0.0/24", 1, 9).is_err());
        assert!(cidr("10.0.0.0/24", 0, 4).is_err());
        assert!(cidr("10.0.0.0", 1, 4).is_err());
        assert!(cidr("nonsense/8", 1, 4).is_err());
        assert!(cidr("10.0.0.0/33", 1, 4).is_err());
    }
}
