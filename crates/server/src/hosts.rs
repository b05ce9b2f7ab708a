//! The `Host` names this server answers to (the DNS-rebinding defence).
//!
//! A web page can make a browser send requests to `127.0.0.1:4566` under a name the
//! page's owner controls (DNS rebinding: `evil.example` resolves to the page's server
//! first, then to 127.0.0.1); the browser then treats the answers as same-origin. The
//! `Host` header still says `evil.example`, so refusing names that are not ours closes
//! that door. Ours are: loopback names and addresses (`localhost`, `*.localhost`,
//! `127.0.0.0/8`, `::1`), the `--host` address, each `--s3-hostname` and its
//! virtual-hosted bucket names (`<bucket>.<name>`), and the `--allowed-host` list
//! (`name` or `*.suffix`). Ports are ignored. When `--host` is an unspecified address
//! (`0.0.0.0`, `::`), the machine's own names are not known, so every IP literal is
//! accepted besides the lists: an address cannot be rebound, only a name can.

use std::net::IpAddr;

/// The names accepted in `Host`.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    exact: Vec<String>,
    /// `*.example.com` stored as `.example.com`: any name below it (not the apex).
    suffixes: Vec<String>,
    any_ip: bool,
}

impl AllowedHosts {
    /// From the listen address, `--s3-hostname`s and `--allowed-host`s.
    pub fn new(listen: &str, s3_hostnames: &[String], allowed: &[String]) -> Self {
        let mut hosts = Self::default();
        match normalize(listen).parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() => hosts.any_ip = true,
            _ => hosts.add(listen),
        }
        for name in s3_hostnames {
            hosts.add(name);
            hosts.add(&format!("*.{}", strip_port(name)));
        }
        for name in allowed {
            hosts.add(name);
        }
        hosts
    }

    fn add(&mut self, pattern: &str) {
        let pattern = pattern.trim();
        if let Some(suffix) = pattern.strip_prefix("*.") {
            let suffix = normalize(suffix);
            if !suffix.is_empty() {
                self.suffixes.push(format!(".{suffix}"));
            }
        } else {
            let name = normalize(pattern);
            if !name.is_empty() {
                self.exact.push(name);
            }
        }
    }

    /// Whether `host` (a `Host` header or URI authority, with or without a port) is ours.
    pub fn allows(&self, host: &str) -> bool {
        let name = normalize(host);
        if name.is_empty() {
            return false;
        }
        if let Ok(ip) = name.parse::<IpAddr>() {
            return ip.is_loopback() || self.any_ip || self.exact.contains(&name);
        }
        name == "localhost"
            || name.ends_with(".localhost")
            || self.exact.contains(&name)
            || self.suffixes.iter().any(|s| name.ends_with(s.as_str()))
    }
}

/// `Host` without its port, brackets and trailing dot, lower-cased.
fn normalize(host: &str) -> String {
    let host = strip_port(host.trim());
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// `name:port` -> `name`; `[v6]:port` -> `[v6]`; a bare IPv6 address stays whole.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        // More than one colon and no brackets: an IPv6 literal without a port.
        Some((name, _)) if name.contains(':') => host,
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(listen: &str, s3: &[&str], allowed: &[&str]) -> AllowedHosts {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        AllowedHosts::new(listen, &own(s3), &own(allowed))
    }

    #[test]
    fn loopback_is_always_ours() {
        let h = hosts("127.0.0.1", &[], &[]);
        for ok in [
            "127.0.0.1",
            "127.0.0.1:4566",
            "127.1.2.3:80",
            "localhost",
            "LOCALHOST:4566",
            "bucket.localhost:4566",
            "[::1]:4566",
            "::1",
            "localhost.",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:4566",
            "localhost.evil.example",
            "10.0.0.5:4566",
            "",
            "[::2]:4566",
        ] {
            assert!(!h.allows(refused), "{refused}");
        }
    }

    #[test]
    fn configured_names_and_wildcards() {
        let h = hosts(
            "10.0.0.5",
            &["s3.internal:4566"],
            &["api.example.com", "*.apps.example.com"],
        );
        assert!(h.allows("10.0.0.5:4566"));
        assert!(h.allows("s3.internal"));
        assert!(h.allows("artifacts.s3.internal:4566"));
        assert!(h.allows("API.example.com:443"));
        assert!(h.allows("a.b.apps.example.com"));
        assert!(!h.allows("apps.example.com"), "a wildcard is not its apex");
        assert!(!h.allows("example.com"));
        assert!(!h.allows("10.0.0.6"));
    }

    #[test]
    fn an_unspecified_listen_address_accepts_ip_literals_only() {
        for listen in ["0.0.0.0", "::", "[::]"] {
            let h = hosts(listen, &[], &["lb.example.com"]);
            assert!(h.allows("192.168.1.20:4566"), "{listen}");
            assert!(h.allows("[fd00::1]:4566"), "{listen}");
            assert!(h.allows("lb.example.com"), "{listen}");
            assert!(!h.allows("evil.example:4566"), "{listen}");
        }
    }
}
