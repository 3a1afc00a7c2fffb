//! Monthly cost of nodes (730 hours): every node on-demand, and the pools' configured spot mix.

use serde::Serialize;

use super::model::NodePool;

/// Hours AWS bills in an average month.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// What a number of nodes of one pool costs per month.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolCost {
    pub on_demand_nodes: u64,
    pub spot_nodes: u64,
    /// Every node billed on-demand.
    pub all_on_demand_usd: f64,
    /// The pool's spot fraction billed at the spot price, the rest on-demand.
    pub spot_mix_usd: f64,
}

/// `nodes` of `pool` for a month. The spot share rounds down: a pool of 7 nodes at 0.5 runs 3 spot
/// and 4 on-demand, so the mix is never cheaper than configured.
pub fn monthly(pool: &NodePool, nodes: u64) -> PoolCost {
    let spot_nodes = ((nodes as f64 * pool.spot_fraction) + 1e-9).floor() as u64;
    let spot_nodes = spot_nodes.min(nodes);
    let on_demand_nodes = nodes - spot_nodes;
    let hourly = &pool.instance;
    PoolCost {
        on_demand_nodes,
        spot_nodes,
        all_on_demand_usd: nodes as f64 * hourly.on_demand_hourly_usd * HOURS_PER_MONTH,
        spot_mix_usd: (on_demand_nodes as f64 * hourly.on_demand_hourly_usd
            + spot_nodes as f64 * hourly.spot_hourly_usd)
            * HOURS_PER_MONTH,
    }
}

/// The monthly cost of several pools together.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    pub nodes: u64,
    pub all_on_demand_usd: f64,
    pub spot_mix_usd: f64,
}

impl Cost {
    /// `nodes[i]` nodes of `pools[i]`.
    pub fn of(pools: &[NodePool], nodes: &[u64]) -> Cost {
        pools
            .iter()
            .zip(nodes)
            .fold(Cost::default(), |total, (pool, &count)| {
                let pool_cost = monthly(pool, count);
                Cost {
                    nodes: total.nodes + count,
                    all_on_demand_usd: total.all_on_demand_usd + pool_cost.all_on_demand_usd,
                    spot_mix_usd: total.spot_mix_usd + pool_cost.spot_mix_usd,
                }
            })
    }

    /// What the spot mix saves against all on-demand, as a fraction.
    pub fn spot_saving(&self) -> f64 {
        if self.all_on_demand_usd > 0.0 {
            1.0 - self.spot_mix_usd / self.all_on_demand_usd
        } else {
            0.0
        }
    }
}
