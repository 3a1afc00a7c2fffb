//! Gateway API knowledge: the hostnames a Gateway's listeners serve.

use crate::repo::Object;

/// Hostnames the Gateways among `objects` listen on.
pub fn listener_hostnames(objects: &[Object]) -> Vec<String> {
    listener_hostnames_of(
        objects
            .iter()
            .filter(|o| o.is("gateway.networking.k8s.io", "Gateway"))
            .map(|g| &g.value),
    )
}

/// Hostnames these Gateways (as JSON) listen on, sorted, once each.
pub fn listener_hostnames_of<'a>(
    gateways: impl Iterator<Item = &'a serde_json::Value>,
) -> Vec<String> {
    let mut hostnames: Vec<String> = gateways
        .flat_map(|g| {
            g["spec"]["listeners"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|l| l["hostname"].as_str().map(str::to_string))
        .collect();
    hostnames.sort();
    hostnames.dedup();
    hostnames
}
