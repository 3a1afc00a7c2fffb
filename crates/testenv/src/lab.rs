//! The whole local platform lab: a simulated EKS-like cluster with the real AWS Load Balancer Controller's Deployment, moto seeded like the platform's account, the checkout served from a local Git repository, the real Argo CD once the argocd phase installs it, and the players for what cannot run here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::argocd::ArgoCd;
use crate::aws::AcmValidation;
use crate::charts::prepare_chart_dir;
use crate::git::GitRepo;
use crate::players::{Players, install_load_balancer_controller};
use crate::{AwsEmulator, Binaries, ControlPlaneOptions, FakeNode, Result, SimulatedCluster};

/// A running lab; everything stops when it is dropped.
pub struct Lab {
    pub cluster: SimulatedCluster,
    pub aws: Arc<AwsEmulator>,
    pub client: kube::Client,
    pub binaries: Binaries,
    /// The air-gapped upstream folder (`--chart-dir`, `TACOS_CHART_DIR`).
    pub chart_dir: PathBuf,
    /// The repository Argo CD syncs: the checkout, committed on `main`.
    pub git: GitRepo,
    pub argocd: ArgoCd,
    players: tokio::task::JoinHandle<()>,
}

impl Lab {
    /// Starts the lab for the tree at `checkout`.
    pub async fn start(checkout: &Path) -> Result<Self> {
        let binaries = Binaries::locate()?;
        // The argocd phase installs Argo CD's CRDs from the chart, and the gateway phase the
        // Gateway API's: the cluster starts without them, as a new EKS cluster does.
        let options = ControlPlaneOptions {
            skip_crds: vec!["gateway-api".into(), "argo-cd".into()],
            ..ControlPlaneOptions::default()
        };
        let cluster = SimulatedCluster::start_with(options, FakeNode::eks_default_pool()).await?;
        let aws = Arc::new(AwsEmulator::start(AcmValidation::Immediate).await?);
        let zone_id = aws.seed_platform().await?;
        let client = cluster.client().await?;
        install_load_balancer_controller(&client, &binaries.helm).await?;
        let dir = cluster.control_plane.dir().to_path_buf();
        let chart_dir = prepare_chart_dir(&binaries, &dir.join("charts"))?;
        let git = GitRepo::from_checkout(checkout, &dir.join("git"))?;
        let argocd = ArgoCd::run_when_installed(
            &binaries,
            client.clone(),
            &cluster.control_plane.kubeconfig,
            &dir,
        )?;
        let players = tokio::spawn(Players::new(client.clone(), aws.clone(), zone_id).run());
        Ok(Self {
            cluster,
            aws,
            client,
            binaries,
            chart_dir,
            git,
            argocd,
            players,
        })
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.cluster.control_plane.kubeconfig
    }

    /// What tacos needs to act on the lab: the cluster, the emulator, the upstream folder, helm,
    /// and the repository and revision (`main`) Argo CD syncs.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("KUBECONFIG".into(), self.kubeconfig().display().to_string()),
            (
                "TACOS_CHART_DIR".into(),
                self.chart_dir.display().to_string(),
            ),
            (
                "TACOS_HELM".into(),
                self.binaries.helm.display().to_string(),
            ),
            ("TACOS_GIT_REPO_URL".into(), self.git.url()),
            ("TACOS_GIT_REVISION".into(), "main".into()),
        ];
        env.extend(self.aws.env());
        env
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.players.abort();
    }
}
