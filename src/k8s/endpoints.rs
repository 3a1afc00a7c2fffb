//! The hosts and ports workloads are configured to call: env values, HOST + PORT pairs, URLs, and the ConfigMap values they pull in.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use k8s_openapi::api::core::v1::{ConfigMap, Container};
use regex::Regex;
use serde::Serialize;

use super::typed::{self, Workload};

/// A host and port a workload's configuration points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// The workload, e.g. `Deployment tacos-app/gateway-api`.
    pub workload: String,
    pub namespace: String,
    pub host: String,
    pub port: u16,
    /// Where it is configured, e.g. `env REDIS_ADDR of container gateway-api`.
    pub configured_in: String,
}

/// Every host:port the workloads' environment names (env values, HOST + PORT pairs, URLs, and the
/// ConfigMap values they pull in), one per workload, host and port.
pub fn configured_endpoints(workloads: &[Workload], config_maps: &[ConfigMap]) -> Vec<Endpoint> {
    workloads
        .iter()
        .flat_map(|workload| endpoints_of(config_maps, workload))
        .collect()
}

/// The workload's environment, as its containers see it: `name → (value, where it comes from)`.
fn environment(
    config_maps: &[ConfigMap],
    namespace: &str,
    container: &Container,
) -> BTreeMap<String, (String, String)> {
    let mut variables = BTreeMap::new();
    for source in container.env_from.iter().flatten() {
        let Some(reference) = &source.config_map_ref else {
            continue;
        };
        let Some(data) = config_map_data(config_maps, namespace, &reference.name) else {
            continue;
        };
        let prefix = source.prefix.as_deref().unwrap_or_default();
        for (key, value) in data {
            variables.insert(
                format!("{prefix}{key}"),
                (
                    value.clone(),
                    format!(
                        "env {prefix}{key} of container {}, from ConfigMap {namespace}/{}",
                        container.name, reference.name
                    ),
                ),
            );
        }
    }
    for variable in container.env.iter().flatten() {
        let from_config_map = variable
            .value_from
            .as_ref()
            .and_then(|from| from.config_map_key_ref.as_ref());
        let resolved = match (&variable.value, from_config_map) {
            (Some(value), _) => Some((value.clone(), String::new())),
            (None, Some(reference)) => config_map_data(config_maps, namespace, &reference.name)
                .and_then(|data| data.get(&reference.key))
                .map(|value| {
                    (
                        value.clone(),
                        format!(
                            ", from ConfigMap {namespace}/{} key {}",
                            reference.name, reference.key
                        ),
                    )
                }),
            (None, None) => None,
        };
        if let Some((value, from)) = resolved {
            variables.insert(
                variable.name.clone(),
                (
                    value,
                    format!(
                        "env {} of container {}{from}",
                        variable.name, container.name
                    ),
                ),
            );
        }
    }
    variables
}

fn config_map_data<'a>(
    config_maps: &'a [ConfigMap],
    namespace: &str,
    name: &str,
) -> Option<&'a BTreeMap<String, String>> {
    config_maps
        .iter()
        .find(|cm| typed::namespace(&cm.metadata) == namespace && typed::name(&cm.metadata) == name)
        .and_then(|cm| cm.data.as_ref())
}

/// The host:ports one workload's configuration names.
pub fn endpoints_of(config_maps: &[ConfigMap], workload: &Workload) -> Vec<Endpoint> {
    let namespace = typed::namespace(workload.meta);
    let Some(spec) = workload.pod_spec() else {
        return Vec::new();
    };
    let mut endpoints: Vec<Endpoint> = Vec::new();
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers);
    for container in containers {
        let variables = environment(config_maps, namespace, container);
        let mut found: Vec<(String, u16, String)> = Vec::new();
        for (value, configured_in) in variables.values() {
            found.extend(
                host_ports(value)
                    .into_iter()
                    .map(|(host, port)| (host, port, configured_in.clone())),
            );
        }
        for (name, (host, host_from)) in &variables {
            let Some(prefix) = name.strip_suffix("HOST") else {
                continue;
            };
            let Some((port, _)) = variables.get(&format!("{prefix}PORT")) else {
                continue;
            };
            if let (true, Ok(port)) = (is_host(host), port.trim().parse::<u16>()) {
                found.push((
                    host.trim().to_ascii_lowercase(),
                    port,
                    format!("{host_from} + {prefix}PORT"),
                ));
            }
        }
        for (host, port, configured_in) in found {
            if !endpoints.iter().any(|e| e.host == host && e.port == port) {
                endpoints.push(Endpoint {
                    workload: workload.subject(),
                    namespace: namespace.to_string(),
                    host,
                    port,
                    configured_in,
                });
            }
        }
    }
    endpoints
}

static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://(?:[^@/?#]*@)?([^:/?#\[\]]+)(?::(\d+))?(?:[/?#].*)?$")
        .expect("URL pattern compiles")
});
static HOST_PORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([^:/\s]+):(\d+)$").expect("host:port pattern compiles"));

/// The `host:port` pairs of a configuration value: `host:6379`, `redis://user:pw@host:6379/0`,
/// `https://host` (the scheme's port), or a comma-separated list of them.
pub fn host_ports(value: &str) -> Vec<(String, u16)> {
    value
        .split([',', ' '])
        .map(str::trim)
        .filter_map(|item| {
            let (host, port) = if let Some(url) = URL.captures(item) {
                let port = match url.get(3) {
                    Some(port) => port.as_str().parse().ok()?,
                    None => default_port(&url[1].to_ascii_lowercase())?,
                };
                (url[2].to_string(), port)
            } else {
                let pair = HOST_PORT.captures(item)?;
                (pair[1].to_string(), pair[2].parse().ok()?)
            };
            (is_host(&host) && port > 0).then(|| (host.to_ascii_lowercase(), port))
        })
        .collect()
}

fn default_port(scheme: &str) -> Option<u16> {
    Some(match scheme {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        "redis" | "rediss" => 6379,
        "postgres" | "postgresql" => 5432,
        "mysql" => 3306,
        "mongodb" => 27017,
        "amqp" => 5672,
        "amqps" => 5671,
        "nats" => 4222,
        _ => return None,
    })
}

/// A host another machine is reached at: a DNS name with a letter in it or a dotted IPv4 address, not
/// this pod itself (localhost, 0.0.0.0, 127.x).
pub fn is_host(text: &str) -> bool {
    let host = text.trim().to_ascii_lowercase();
    let well_formed = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && !host.starts_with(['.', '-'])
        && !host.ends_with('-');
    let ipv4 =
        host.split('.').count() == 4 && host.split('.').all(|part| part.parse::<u8>().is_ok());
    let named = host.chars().any(|c| c.is_ascii_alphabetic());
    well_formed
        && (ipv4 || named)
        && host != "localhost"
        && host != "0.0.0.0"
        && !host.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ports_skip_listen_addresses_and_read_urls() {
        assert_eq!(host_ports(":8000"), vec![]);
        assert_eq!(host_ports("0.0.0.0:8080"), vec![]);
        assert_eq!(host_ports("localhost:6379"), vec![]);
        assert_eq!(host_ports("10:30"), vec![]);
        assert_eq!(
            host_ports("10.0.1.5:6379"),
            vec![("10.0.1.5".to_string(), 6379)]
        );
        assert_eq!(
            host_ports("a.example.com:6379,b.example.com:6380"),
            vec![
                ("a.example.com".to_string(), 6379),
                ("b.example.com".to_string(), 6380)
            ]
        );
        assert_eq!(
            host_ports("https://api.example.com/v1?x=1"),
            vec![("api.example.com".to_string(), 443)]
        );
        assert_eq!(
            host_ports("postgres://u:p@db.internal:5433/app"),
            vec![("db.internal".to_string(), 5433)]
        );
        assert_eq!(host_ports("unknown://host.example.com"), vec![]);
    }
}
