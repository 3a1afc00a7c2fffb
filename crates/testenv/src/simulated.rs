//! A simulated cluster: the control plane plus kube-controller-manager, kube-scheduler, kwok and metrics-server, with fake nodes labelled like the EKS nodes of the platform.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, NodeSpec, NodeStatus, ServiceAccount, Taint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};

use crate::control_plane::lock;
use crate::process::ManagedProcess;
use crate::{ControlPlane, ControlPlaneOptions, Result, TestenvError, free_port, kube_err};

/// Annotation kwok selects the nodes it manages by.
pub const KWOK_NODE_ANNOTATION: &str = "kwok.x-k8s.io/node";

/// A fake node kwok keeps Ready, labelled like a Karpenter-provisioned EKS node.
#[derive(Debug, Clone)]
pub struct FakeNode {
    pub name: String,
    /// ap-northeast-2a, -2b or -2c.
    pub zone: String,
    /// `on-demand` or `spot` (both the `node-type` and `karpenter.sh/capacity-type` labels).
    pub capacity_type: String,
    pub cpu: String,
    pub memory: String,
    pub pods: String,
    pub taints: Vec<Taint>,
    pub labels: BTreeMap<String, String>,
}

impl FakeNode {
    pub fn new(name: &str, zone: &str, capacity_type: &str) -> Self {
        Self {
            name: name.to_string(),
            zone: zone.to_string(),
            capacity_type: capacity_type.to_string(),
            cpu: "32".into(),
            memory: "128Gi".into(),
            pods: "250".into(),
            taints: Vec::new(),
            labels: BTreeMap::new(),
        }
    }

    /// Three nodes, one per zone of ap-northeast-2: two on-demand, one spot.
    pub fn eks_default_pool() -> Vec<Self> {
        vec![
            Self::new(
                "ip-10-0-1-10.ap-northeast-2.compute.internal",
                "ap-northeast-2a",
                "on-demand",
            ),
            Self::new(
                "ip-10-0-2-10.ap-northeast-2.compute.internal",
                "ap-northeast-2b",
                "on-demand",
            ),
            Self::new(
                "ip-10-0-3-10.ap-northeast-2.compute.internal",
                "ap-northeast-2c",
                "spot",
            ),
        ]
    }

    pub fn with_taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        self.taints.push(Taint {
            key: key.into(),
            value: Some(value.into()),
            effect: effect.into(),
            ..Default::default()
        });
        self
    }

    pub fn with_label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    pub fn to_node(&self) -> Node {
        let mut labels = BTreeMap::from([
            ("kubernetes.io/hostname".to_string(), self.name.clone()),
            ("kubernetes.io/os".to_string(), "linux".to_string()),
            ("kubernetes.io/arch".to_string(), "amd64".to_string()),
            (
                "topology.kubernetes.io/region".to_string(),
                "ap-northeast-2".to_string(),
            ),
            ("topology.kubernetes.io/zone".to_string(), self.zone.clone()),
            (
                "node.kubernetes.io/instance-type".to_string(),
                "c6i.4xlarge".to_string(),
            ),
            ("node-type".to_string(), self.capacity_type.clone()),
            (
                "karpenter.sh/capacity-type".to_string(),
                self.capacity_type.clone(),
            ),
            (
                "karpenter.sh/nodepool".to_string(),
                format!("tacos-{}", self.capacity_type),
            ),
            ("type".to_string(), "kwok".to_string()),
        ]);
        labels.extend(self.labels.clone());
        let resources = BTreeMap::from([
            ("cpu".to_string(), Quantity(self.cpu.clone())),
            ("memory".to_string(), Quantity(self.memory.clone())),
            ("pods".to_string(), Quantity(self.pods.clone())),
        ]);
        Node {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                labels: Some(labels),
                annotations: Some(BTreeMap::from([
                    (KWOK_NODE_ANNOTATION.to_string(), "fake".to_string()),
                    (
                        crate::metrics::RESOURCE_METRICS_PATH_ANNOTATION.to_string(),
                        crate::metrics::resource_metrics_path(&self.name),
                    ),
                ])),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                taints: (!self.taints.is_empty()).then(|| self.taints.clone()),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                allocatable: Some(resources.clone()),
                capacity: Some(resources),
                ..Default::default()
            }),
        }
    }
}

/// A control plane with the controllers and fake kubelets that make workloads roll out.
#[derive(Debug)]
pub struct SimulatedCluster {
    pub control_plane: ControlPlane,
    processes: std::sync::Mutex<Vec<ManagedProcess>>,
}

impl SimulatedCluster {
    pub async fn start(nodes: Vec<FakeNode>) -> Result<Self> {
        Self::start_with(ControlPlaneOptions::default(), nodes).await
    }

    pub async fn start_with(options: ControlPlaneOptions, nodes: Vec<FakeNode>) -> Result<Self> {
        let control_plane = ControlPlane::start(options).await?;
        let b = control_plane.binaries.clone();
        b.require("kube-controller-manager", &b.kube_controller_manager)?;
        b.require("kube-scheduler", &b.kube_scheduler)?;
        b.require("kwok", &b.kwok)?;
        let kubeconfig = control_plane.kubeconfig.display().to_string();
        let dir = control_plane.dir().to_path_buf();
        let common = |port: u16| {
            vec![
                format!("--kubeconfig={kubeconfig}"),
                format!("--authentication-kubeconfig={kubeconfig}"),
                format!("--authorization-kubeconfig={kubeconfig}"),
                "--leader-elect=false".to_string(),
                "--bind-address=127.0.0.1".to_string(),
                format!("--secure-port={port}"),
                "--v=1".to_string(),
            ]
        };
        let mut controller_manager_args = common(free_port()?);
        controller_manager_args.extend([
            format!(
                "--service-account-private-key-file={}",
                control_plane.pki.service_account_key.display()
            ),
            format!("--root-ca-file={}", control_plane.pki.ca_cert.display()),
            format!(
                "--cluster-signing-cert-file={}",
                control_plane.pki.ca_cert.display()
            ),
            format!(
                "--cluster-signing-key-file={}",
                control_plane.pki.ca_key.display()
            ),
            "--use-service-account-credentials=false".to_string(),
            "--concurrent-deployment-syncs=10".to_string(),
            "--concurrent-replicaset-syncs=10".to_string(),
            // Autoscalers reach their floor in seconds, not the default 15 s sync period.
            "--horizontal-pod-autoscaler-sync-period=3s".to_string(),
        ]);
        let mut processes = vec![ManagedProcess::spawn(
            "kube-controller-manager",
            &b.kube_controller_manager,
            &controller_manager_args,
            &[],
            dir.join("kube-controller-manager.log"),
        )?];
        processes.push(ManagedProcess::spawn(
            "kube-scheduler",
            &b.kube_scheduler,
            &common(free_port()?),
            &[],
            dir.join("kube-scheduler.log"),
        )?);
        let mut kwok_args = vec![
            format!("--kubeconfig={kubeconfig}"),
            "--manage-all-nodes=false".to_string(),
            format!("--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake"),
            "--cidr=10.244.0.1/16".to_string(),
            // Nodes report the loopback address metrics-server reaches kwok's kubelet endpoints on.
            "--node-ip=127.0.0.1".to_string(),
            "--node-lease-duration-seconds=40".to_string(),
        ];
        let kubelet_port = free_port()?;
        kwok_args.extend(crate::metrics::kwok_args(&b, kubelet_port)?);
        let stages =
            std::fs::read_dir(&b.kwok_stages).map_err(|_| TestenvError::MissingBinary {
                what: "kwok stages".into(),
                path: b.kwok_stages.clone(),
            })?;
        let mut stage_files: Vec<_> = stages
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        stage_files.sort();
        kwok_args.extend(
            stage_files
                .iter()
                .map(|f| format!("--config={}", f.display())),
        );
        processes.push(ManagedProcess::spawn(
            "kwok",
            &b.kwok,
            &kwok_args,
            &[],
            dir.join("kwok.log"),
        )?);
        let metrics_port = free_port()?;
        processes.push(crate::metrics::spawn_metrics_server(
            &control_plane,
            metrics_port,
            &dir,
        )?);
        crate::metrics::register_api_service(&control_plane.client().await?, metrics_port).await?;

        let cluster = Self {
            control_plane,
            processes: std::sync::Mutex::new(processes),
        };
        for node in &nodes {
            cluster.add_node(node).await?;
        }
        cluster
            .wait_until_settled(&nodes, Duration::from_secs(120))
            .await?;
        Ok(cluster)
    }

    pub async fn client(&self) -> Result<kube::Client> {
        self.control_plane.client().await
    }

    /// Starts the VPA recommender for `namespace`; it runs as long as the cluster. Returns its log.
    pub fn start_vpa_recommender(&self, namespace: &str) -> Result<std::path::PathBuf> {
        let process = crate::vpa::spawn_recommender(
            &self.control_plane,
            namespace,
            self.control_plane.dir(),
        )?;
        let log = process.log.clone();
        lock(&self.processes).push(process);
        Ok(log)
    }

    /// A fresh namespace; its `default` ServiceAccount comes from the controller-manager as on a real cluster.
    pub async fn fresh_namespace(&self, prefix: &str) -> Result<String> {
        self.control_plane.fresh_namespace(prefix).await
    }

    pub async fn add_node(&self, node: &FakeNode) -> Result<()> {
        let nodes: Api<Node> = Api::all(self.client().await?);
        nodes
            .create(&PostParams::default(), &node.to_node())
            .await
            .map_err(kube_err(format!("create fake node {}", node.name)))?;
        Ok(())
    }

    /// Waits until every node is Ready (kwok) and the controller-manager has made the default ServiceAccount.
    async fn wait_until_settled(&self, expected: &[FakeNode], timeout: Duration) -> Result<()> {
        let client = self.client().await?;
        let nodes: Api<Node> = Api::all(client.clone());
        let accounts: Api<ServiceAccount> = Api::namespaced(client, "default");
        let started = Instant::now();
        loop {
            let ready = nodes
                .list(&ListParams::default())
                .await
                .map(|list| {
                    list.items
                        .iter()
                        .filter(|n| {
                            n.status
                                .as_ref()
                                .and_then(|s| s.conditions.as_ref())
                                .is_some_and(|c| {
                                    c.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                                })
                        })
                        .count()
                })
                .unwrap_or(0);
            let default_account = accounts.get_opt("default").await.ok().flatten().is_some();
            if ready >= expected.len() && default_account {
                return Ok(());
            }
            if let Some(error) =
                self.failure(started, timeout, ready, expected.len(), default_account)
            {
                return Err(error);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The error to stop waiting with: a process that died, or the timeout.
    fn failure(
        &self,
        started: Instant,
        timeout: Duration,
        ready: usize,
        expected: usize,
        default_account: bool,
    ) -> Option<TestenvError> {
        let mut processes = lock(&self.processes);
        if let Some(index) = processes.iter_mut().position(|p| p.has_exited()) {
            let dead = &processes[index];
            return Some(TestenvError::NotReady {
                what: dead.name.clone(),
                seconds: started.elapsed().as_secs(),
                log: dead.log.clone(),
                tail: dead.log_tail(25),
            });
        }
        if started.elapsed() > timeout {
            let kwok = processes.iter().find(|p| p.name == "kwok");
            return Some(TestenvError::NotReady {
                what: format!(
                    "simulated cluster ({ready}/{expected} nodes Ready, default ServiceAccount: {default_account})"
                ),
                seconds: timeout.as_secs(),
                log: kwok.map(|p| p.log.clone()).unwrap_or_default(),
                tail: kwok.map(|p| p.log_tail(25)).unwrap_or_default(),
            });
        }
        None
    }
}
