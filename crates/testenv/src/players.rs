//! Long-running stand-ins on the simulated cluster for controllers that cannot run out of cluster here: the AWS Load Balancer Controller with ExternalDNS (Gateways get an ALB in the emulator and DNS aliases) and KEDA (ScaledObjects get their HPA). Argo CD is the real one (see `argocd`).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};

use crate::{AwsEmulator, Result, TestenvError, play};

/// What the players need: the cluster, the emulator and its hosted zone.
pub struct Players {
    pub client: kube::Client,
    pub aws: std::sync::Arc<AwsEmulator>,
    pub zone_id: String,
    /// Gateway (namespace/name) -> the DNS name of the ALB made for it.
    load_balancers: HashMap<String, String>,
    /// Gateway or ScaledObject (namespace/name) -> the generation last played.
    played: HashMap<String, i64>,
}

impl Players {
    pub fn new(client: kube::Client, aws: std::sync::Arc<AwsEmulator>, zone_id: String) -> Self {
        Self {
            client,
            aws,
            zone_id,
            load_balancers: HashMap::new(),
            played: HashMap::new(),
        }
    }

    /// Plays every controller once a second, forever (run it in a task and abort it when done).
    pub async fn run(mut self) {
        let mut last_error = String::new();
        loop {
            if let Err(error) = self.tick().await {
                let text = crate::shared::error_chain(&error);
                if text != last_error {
                    eprintln!("[stand-in controllers] {text}");
                    last_error = text;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// One pass over Gateways, routes and ScaledObjects.
    pub async fn tick(&mut self) -> Result<()> {
        self.play_load_balancer_controller().await?;
        self.play_keda().await
    }

    async fn play_keda(&mut self) -> Result<()> {
        for scaled_object in self.list("keda.sh", "v1alpha1", "ScaledObject").await {
            let key = format!(
                "ScaledObject {}/{}",
                scaled_object
                    .metadata
                    .namespace
                    .as_deref()
                    .unwrap_or_default(),
                scaled_object.metadata.name.as_deref().unwrap_or_default()
            );
            let generation = scaled_object.metadata.generation.unwrap_or(0);
            if self.played.get(&key) != Some(&generation) {
                play::keda_scale_object(&self.client, &scaled_object).await?;
                self.played.insert(key, generation);
            }
        }
        Ok(())
    }

    fn all(&self, group: &str, version: &str, kind: &str) -> Api<DynamicObject> {
        Api::all_with(
            self.client.clone(),
            &ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind)),
        )
    }

    async fn list(&self, group: &str, version: &str, kind: &str) -> Vec<DynamicObject> {
        // Before its CRD exists a kind cannot be listed: nothing to play yet.
        self.all(group, version, kind)
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default()
    }

    async fn play_load_balancer_controller(&mut self) -> Result<()> {
        for class in self
            .list("gateway.networking.k8s.io", "v1", "GatewayClass")
            .await
        {
            let accepted = class.data["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Accepted" && c["status"] == "True");
            if class.data["spec"]["controllerName"] == "gateway.k8s.aws/alb" && !accepted {
                play::aws_lbc_accept_gateway_class(
                    &self.client,
                    class.metadata.name.as_deref().unwrap_or_default(),
                )
                .await?;
            }
        }
        for gateway in self
            .list("gateway.networking.k8s.io", "v1", "Gateway")
            .await
        {
            let namespace = gateway.metadata.namespace.clone().unwrap_or_default();
            let name = gateway.metadata.name.clone().unwrap_or_default();
            let key = format!("Gateway {namespace}/{name}");
            let generation = gateway.metadata.generation.unwrap_or(0);
            if self.played.get(&key) == Some(&generation) {
                continue;
            }
            let dns = match self.load_balancers.get(&key) {
                Some(dns) => dns.clone(),
                None => {
                    let alb_name: String = format!("k8s-{namespace}-{name}")
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .take(32)
                        .collect();
                    let dns = self
                        .aws
                        .seed_load_balancer(alb_name.trim_end_matches('-'))
                        .await?;
                    self.load_balancers.insert(key.clone(), dns.clone());
                    dns
                }
            };
            play::aws_lbc_program_gateway(&self.client, &namespace, &name, &dns).await?;
            for hostname in gateway.data["spec"]["listeners"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["hostname"].as_str())
            {
                self.aws
                    .seed_alias_record(&self.zone_id, hostname, &dns)
                    .await?;
            }
            self.played.insert(key, generation);
        }
        for kind in ["HTTPRoute", "GRPCRoute"] {
            for route in self.list("gateway.networking.k8s.io", "v1", kind).await {
                if route.data["status"]["parents"]
                    .as_array()
                    .is_some_and(|p| !p.is_empty())
                {
                    continue;
                }
                let namespace = route.metadata.namespace.clone().unwrap_or_default();
                play::aws_lbc_accept_route(
                    &self.client,
                    kind,
                    &namespace,
                    route.metadata.name.as_deref().unwrap_or_default(),
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// Values of a real EKS install of the controller for the platform's cluster, with the ALB
/// Gateway API feature gate the gateway phase needs.
pub const LOAD_BALANCER_CONTROLLER_VALUES: &[&str] = &[
    "clusterName=ticket-cluster",
    "region=ap-northeast-2",
    "serviceAccount.create=true",
    "serviceAccount.name=aws-load-balancer-controller",
    "controllerConfig.featureGates.ALBGatewayAPI=true",
];

/// The AWS Load Balancer Controller as `helm template` of its real chart (v3.5.0) renders it
/// (ServiceAccount, RBAC, Service, Deployment with the real image, args and feature gates), so the
/// gateway phase's preflight reads the real shape; the Players do its actual work. Its webhook
/// configurations are left out: no webhook server answers in the simulated cluster, and with them
/// the apiserver would refuse every Service and TargetGroupBinding.
pub async fn install_load_balancer_controller(client: &kube::Client, helm: &Path) -> Result<()> {
    let chart = crate::upstream::Upstream::locate()?.path(crate::upstream::LBC_CHART);
    let mut command = std::process::Command::new(helm);
    command
        .args(["template", "aws-load-balancer-controller"])
        .arg(&chart)
        .args(["--namespace", "kube-system"]);
    for value in LOAD_BALANCER_CONTROLLER_VALUES {
        command.args(["--set", value]);
    }
    let output = command
        .output()
        .map_err(crate::io_err(format!("run {}", helm.display())))?;
    if !output.status.success() {
        return Err(TestenvError::Parse {
            path: chart,
            message: format!(
                "helm template failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    crate::apply::apply_yaml(
        client,
        &chart,
        &text,
        "tacos-testenv",
        "kube-system",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
            "List",
        ],
    )
    .await
}
