//! Nodes needed per pool: first-fit decreasing of pods by their requests (cpu, memory, pod slots), pools in order of preference.

use serde::Serialize;

use super::model::{NodePool, NodeSpace, PodResources};
use crate::k8s::quantity::Quantity;

/// Identical pods of one owner (a service name, or another workload's subject).
#[derive(Debug, Clone, PartialEq)]
pub struct PodGroup {
    pub owner: String,
    pub count: u64,
    pub pod: PodResources,
}

/// Why pods found no node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Unplaced {
    /// Every pool that admits them is at its maxNodes.
    PoolsFull,
    /// One pod requests more than an empty node of any pool admitting it allocates.
    LargerThanNode,
    /// No pool admits the owner.
    NoPool,
}

/// Pods that found no node.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnplacedPods {
    pub owner: String,
    pub count: u64,
    pub reason: Unplaced,
}

/// The outcome: nodes used per pool (in the pools' order) and pods left over.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Packing {
    pub nodes: Vec<u64>,
    pub unplaced: Vec<UnplacedPods>,
}

impl Packing {
    pub fn total_nodes(&self) -> u64 {
        self.nodes.iter().sum()
    }

    pub fn unplaced_pods(&self) -> u64 {
        self.unplaced.iter().map(|u| u.count).sum()
    }
}

/// Identical nodes of one pool with the same free space.
#[derive(Debug, Clone, Copy)]
struct NodeRun {
    free: NodeSpace,
    count: u64,
}

/// How many pods of `pod` fit in `free`; u64::MAX when nothing bounds it.
fn fit(free: &NodeSpace, pod: &PodResources) -> u64 {
    let by = |request: Quantity, room: Quantity| {
        request
            .times_within(room)
            .map_or(u64::MAX, |n| u64::try_from(n).unwrap_or(0))
    };
    by(pod.requests_cpu, free.cpu)
        .min(by(pod.requests_memory, free.memory))
        .min(free.pods)
}

fn take(free: NodeSpace, pod: &PodResources, pods: u64) -> NodeSpace {
    let times = i64::try_from(pods).unwrap_or(i64::MAX);
    NodeSpace {
        cpu: free.cpu - pod.requests_cpu * times,
        memory: free.memory - pod.requests_memory * times,
        pods: free.pods - pods,
    }
}

/// Packs `groups` into `pools`, each limited to its maxNodes.
///
/// Pods are taken largest first (cpu, then memory); each goes to the first node, pool by pool in
/// order, with room for its requests and a pod slot; when none has room, nodes are added to the
/// first pool that admits the pod and is below its maxNodes. A pod is never split across nodes, so
/// this counts the fragmentation a per-resource ceiling (total requests / allocatable) misses;
/// first-fit decreasing needs at most 11/9 of the optimal number of nodes plus one. Topology spread
/// and preferred anti-affinity are not modelled: with three zones and tens of pods per service they
/// change the count little.
pub fn pack(groups: &[PodGroup], pools: &[NodePool]) -> Packing {
    let limits: Vec<u64> = pools.iter().map(|p| p.max_nodes).collect();
    pack_within(groups, pools, &limits)
}

/// Packs `groups` into `pools`, pool i limited to `max_nodes[i]` nodes.
pub fn pack_within(groups: &[PodGroup], pools: &[NodePool], max_nodes: &[u64]) -> Packing {
    let mut order: Vec<&PodGroup> = groups.iter().filter(|g| g.count > 0).collect();
    order.sort_by(|a, b| {
        (b.pod.requests_cpu, b.pod.requests_memory, &a.owner).cmp(&(
            a.pod.requests_cpu,
            a.pod.requests_memory,
            &b.owner,
        ))
    });
    let mut runs: Vec<Vec<NodeRun>> = vec![Vec::new(); pools.len()];
    let mut used: Vec<u64> = vec![0; pools.len()];
    let mut unplaced = Vec::new();
    for group in order {
        let admitting: Vec<usize> = (0..pools.len())
            .filter(|&i| pools[i].admits(&group.owner))
            .collect();
        let mut remaining = group.count;
        for &pool in &admitting {
            remaining = fill_existing(&mut runs[pool], &group.pod, remaining);
        }
        for &pool in &admitting {
            if remaining == 0 {
                break;
            }
            let per_node = fit(&pools[pool].allocatable(), &group.pod);
            if per_node == 0 {
                continue;
            }
            let limit = max_nodes.get(pool).copied().unwrap_or(0);
            let room = limit.saturating_sub(used[pool]);
            let opened = remaining.div_ceil(per_node).min(room);
            if opened == 0 {
                continue;
            }
            let placed = remaining.min(opened.saturating_mul(per_node));
            let empty = NodeRun {
                free: pools[pool].allocatable(),
                count: opened,
            };
            runs[pool].push(empty);
            let last = runs[pool].len() - 1;
            let left = fill_run(&mut runs[pool], last, &group.pod, placed);
            debug_assert_eq!(left, 0);
            used[pool] += opened;
            remaining -= placed;
        }
        if remaining > 0 {
            let reason = if admitting.is_empty() {
                Unplaced::NoPool
            } else if admitting
                .iter()
                .any(|&i| fit(&pools[i].allocatable(), &group.pod) > 0)
            {
                Unplaced::PoolsFull
            } else {
                Unplaced::LargerThanNode
            };
            unplaced.push(UnplacedPods {
                owner: group.owner.clone(),
                count: remaining,
                reason,
            });
        }
    }
    Packing {
        nodes: used,
        unplaced,
    }
}

/// Places up to `pods` pods on a pool's existing nodes, first node first; returns how many are left.
fn fill_existing(runs: &mut Vec<NodeRun>, pod: &PodResources, mut pods: u64) -> u64 {
    let mut index = 0;
    while pods > 0 && index < runs.len() {
        let before = runs.len();
        pods = fill_run(runs, index, pod, pods);
        // fill_run may split the run into pieces; each of them has been offered the pods.
        index += 1 + runs.len() - before;
    }
    pods
}

/// First-fit over the identical nodes of `runs[index]`: each node takes as many pods as fit until
/// `pods` runs out. The run splits into the nodes that took a full load, the one that took the
/// rest, and those untouched. Returns how many pods are left.
fn fill_run(runs: &mut Vec<NodeRun>, index: usize, pod: &PodResources, pods: u64) -> u64 {
    let run = runs[index];
    let per_node = fit(&run.free, pod);
    if per_node == 0 || pods == 0 {
        return pods;
    }
    let full_nodes = (pods / per_node).min(run.count);
    let after_full = pods - full_nodes * per_node;
    let partial = if full_nodes < run.count && after_full > 0 {
        after_full
    } else {
        0
    };
    let mut pieces = Vec::with_capacity(3);
    if full_nodes > 0 {
        pieces.push(NodeRun {
            free: take(run.free, pod, per_node),
            count: full_nodes,
        });
    }
    if partial > 0 {
        pieces.push(NodeRun {
            free: take(run.free, pod, partial),
            count: 1,
        });
    }
    let untouched = run.count - full_nodes - u64::from(partial > 0);
    if untouched > 0 {
        pieces.push(NodeRun {
            free: run.free,
            count: untouched,
        });
    }
    runs.splice(index..=index, pieces);
    after_full - partial
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::testing::{c7i_pool, quantity};

    fn pool(name: &str, max_nodes: u64, services: &[&str]) -> NodePool {
        let mut pool = c7i_pool(name, 0.0, max_nodes);
        pool.services = services.iter().map(|s| s.to_string()).collect();
        pool
    }

    fn group(owner: &str, count: u64, cpu: &str, memory: &str) -> PodGroup {
        PodGroup {
            owner: owner.into(),
            count,
            pod: PodResources {
                requests_cpu: quantity(cpu),
                requests_memory: quantity(memory),
                ..PodResources::default()
            },
        }
    }

    #[test]
    fn fifty_one_cpu_pods_take_four_fifteen_cpu_nodes() {
        let packing = pack(
            &[group("gateway-api", 50, "1", "512Mi")],
            &[pool("a", 10, &[])],
        );
        assert_eq!(packing.nodes, vec![4]);
        assert!(packing.unplaced.is_empty());
    }

    #[test]
    fn smaller_pods_fill_the_room_larger_ones_leave() {
        // 50 x 1 cpu: 3 full nodes and one with 5 cpu used; 40 x 0.25 cpu = 10 cpu fit on that fourth node.
        let packing = pack(
            &[
                group("worker", 40, "250m", "256Mi"),
                group("gateway-api", 50, "1", "512Mi"),
            ],
            &[pool("a", 10, &[])],
        );
        assert_eq!(packing.nodes, vec![4]);
    }

    #[test]
    fn memory_bound_pods_are_limited_by_memory() {
        // 28.5Gi / 1.5Gi = 19 pods per node by memory, though 15 cpu would take 30 of 0.5 cpu.
        let packing = pack(
            &[group("java", 38, "500m", "1536Mi")],
            &[pool("a", 10, &[])],
        );
        assert_eq!(packing.nodes, vec![2]);
    }

    #[test]
    fn pods_spill_into_the_next_pool_when_the_first_is_full() {
        let packing = pack(
            &[group("gateway-api", 50, "1", "512Mi")],
            &[pool("on-demand", 2, &[]), pool("spot", 10, &[])],
        );
        assert_eq!(packing.nodes, vec![2, 2]);
    }

    #[test]
    fn pods_beyond_every_pool_are_unplaced_because_the_pools_are_full() {
        let packing = pack(
            &[group("gateway-api", 50, "1", "512Mi")],
            &[pool("on-demand", 1, &[]), pool("spot", 2, &[])],
        );
        assert_eq!(packing.nodes, vec![1, 2]);
        assert_eq!(
            packing.unplaced,
            vec![UnplacedPods {
                owner: "gateway-api".into(),
                count: 5,
                reason: Unplaced::PoolsFull
            }]
        );
    }

    #[test]
    fn a_pool_listing_services_takes_only_those() {
        let packing = pack(
            &[
                group("reservation-api", 15, "1", "1536Mi"),
                group("gateway-api", 15, "1", "512Mi"),
            ],
            &[
                pool("java", 5, &["reservation-api"]),
                pool("general", 5, &["gateway-api"]),
            ],
        );
        assert_eq!(packing.nodes, vec![1, 1]);
    }

    #[test]
    fn a_pod_larger_than_any_node_is_unplaced_as_such() {
        let packing = pack(&[group("huge", 2, "20", "1Gi")], &[pool("a", 10, &[])]);
        assert_eq!(packing.nodes, vec![0]);
        assert_eq!(packing.unplaced[0].reason, Unplaced::LargerThanNode);
    }

    #[test]
    fn pod_slots_bound_pods_without_requests() {
        let packing = pack(&[group("tiny", 500, "0", "0")], &[pool("a", 10, &[])]);
        assert_eq!(packing.nodes, vec![3]);
    }

    #[test]
    fn huge_pod_counts_pack_without_one_entry_per_pod() {
        let packing = pack(
            &[group("gateway-api", 3_000_000, "1", "512Mi")],
            &[pool("a", u64::MAX, &[])],
        );
        assert_eq!(packing.nodes, vec![200_000]);
    }
}
