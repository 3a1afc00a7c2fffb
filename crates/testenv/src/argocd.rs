//! The real Argo CD on the simulated cluster: its application-controller, repo-server and server (the multicall binary `testenv/install.sh` builds from Argo CD's Go module) run out of cluster with their own redis-server, configured from the StatefulSet, Deployments, ConfigMaps and Secrets the argocd phase installed from the real chart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Secret};
use kube::Api;

use crate::process::ManagedProcess;
use crate::{Binaries, Result, TestenvError, free_port, io_err, kube_err};

/// The namespace the chart installs Argo CD into (the argocd phase's).
pub const NAMESPACE: &str = "argocd";

/// Argo CD's controllers, started once the argocd phase has installed them: as their pods would
/// start once the chart's workloads exist.
pub struct ArgoCd {
    handle: tokio::task::JoinHandle<()>,
    /// Where the processes keep their logs, caches and clones.
    pub dir: PathBuf,
}

impl ArgoCd {
    /// Watches the cluster behind `kubeconfig` for the chart's application-controller StatefulSet
    /// and repo-server and server Deployments, then runs them (and a Redis) until dropped. The
    /// server does at start what the controllers need of it (argocd-secret's `server.secretkey`).
    pub fn run_when_installed(
        binaries: &Binaries,
        client: kube::Client,
        kubeconfig: &Path,
        dir: &Path,
    ) -> Result<Self> {
        let argocd = binaries.require("argocd", &binaries.argocd)?.to_path_buf();
        let redis = binaries
            .require("redis-server", &binaries.redis_server)?
            .to_path_buf();
        let helm = binaries.require("helm", &binaries.helm)?.to_path_buf();
        let dir = dir.join("argocd");
        std::fs::create_dir_all(&dir).map_err(io_err(format!("create {}", dir.display())))?;
        let setup = Setup {
            argocd,
            redis,
            helm,
            kubeconfig: kubeconfig.to_path_buf(),
            dir: dir.clone(),
        };
        let handle = tokio::spawn(async move {
            match setup.start(&client).await {
                Ok(processes) => {
                    // Hold the processes (killed when this task is aborted) and say if one dies.
                    let mut processes = processes;
                    let mut told = false;
                    loop {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        if !told
                            && let Some(dead) = processes
                                .iter_mut()
                                .find_map(|p| p.has_exited().then_some(p))
                        {
                            eprintln!(
                                "[argocd] {} exited; its log ({}) ends with:\n{}",
                                dead.name,
                                dead.log.display(),
                                dead.log_tail(20)
                            );
                            told = true;
                        }
                    }
                }
                Err(error) => eprintln!(
                    "[argocd] not started: {}",
                    crate::shared::error_chain(&error)
                ),
            }
        });
        Ok(Self { handle, dir })
    }
}

impl Drop for ArgoCd {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

struct Setup {
    argocd: PathBuf,
    redis: PathBuf,
    helm: PathBuf,
    kubeconfig: PathBuf,
    dir: PathBuf,
}

impl Setup {
    async fn start(&self, client: &kube::Client) -> Result<Vec<ManagedProcess>> {
        let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
        let (controller, repo_server, server) = loop {
            let controller = statefulsets
                .get_opt("argocd-application-controller")
                .await
                .ok()
                .flatten();
            let repo_server = deployments
                .get_opt("argocd-repo-server")
                .await
                .ok()
                .flatten();
            let server = deployments.get_opt("argocd-server").await.ok().flatten();
            if let (Some(c), Some(r), Some(s)) = (controller, repo_server, server) {
                break (c, r, s);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        let controller = first_container(controller.spec.and_then(|s| s.template.spec));
        let repo_server = first_container(repo_server.spec.and_then(|s| s.template.spec));
        let server = first_container(server.spec.and_then(|s| s.template.spec));
        let (Some(controller), Some(repo_server), Some(server)) = (controller, repo_server, server)
        else {
            return Err(TestenvError::Parse {
                path: PathBuf::from("argocd"),
                message:
                    "the chart's application-controller, repo-server or server has no container"
                        .into(),
            });
        };
        // The ConfigMaps and Secrets the chart's env reads are applied in the same step; give
        // them a moment, as a kubelet retries a pod whose referenced ConfigMap is not there yet.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut controller_env = resolve_env(client, &controller).await?;
        let mut repo_env = resolve_env(client, &repo_server).await?;
        let mut server_env = resolve_env(client, &server).await?;
        let password = controller_env.remove("REDIS_PASSWORD");
        repo_env.remove("REDIS_PASSWORD");
        server_env.remove("REDIS_PASSWORD");

        let redis_port = free_port()?;
        let mut redis_args = vec![
            "--bind".to_string(),
            "127.0.0.1".to_string(),
            "--port".to_string(),
            redis_port.to_string(),
            "--save".to_string(),
            String::new(),
            "--appendonly".to_string(),
            "no".to_string(),
        ];
        if let Some(password) = password.as_ref().filter(|p| !p.is_empty()) {
            redis_args.extend(["--requirepass".to_string(), password.clone()]);
            for env in [&mut controller_env, &mut repo_env, &mut server_env] {
                env.insert("REDIS_PASSWORD".into(), password.clone());
            }
        }
        let mut processes = vec![ManagedProcess::spawn(
            "redis-server",
            &self.redis,
            &redis_args,
            &[],
            self.dir.join("redis.log"),
        )?];

        let repo_port = free_port()?;
        let redis_address = format!("127.0.0.1:{redis_port}");
        let mut repo_args = pod_args(&repo_server);
        repo_args.extend([
            "--address=127.0.0.1".to_string(),
            format!("--port={repo_port}"),
            "--metrics-address=127.0.0.1".to_string(),
            format!("--metrics-port={}", free_port()?),
            format!("--redis={redis_address}"),
        ]);
        let repo_env = self.process_env(repo_env, "argocd-repo-server")?;
        processes.push(self.spawn("argocd-repo-server", &repo_args, &repo_env)?);

        let mut controller_args = pod_args(&controller);
        controller_args.extend([
            format!("--namespace={NAMESPACE}"),
            format!("--redis={redis_address}"),
            format!("--repo-server=127.0.0.1:{repo_port}"),
            format!("--commit-server=127.0.0.1:{}", free_port()?),
            format!("--metrics-port={}", free_port()?),
        ]);
        let controller_env = self.process_env(controller_env, "argocd-application-controller")?;
        processes.push(self.spawn(
            "argocd-application-controller",
            &controller_args,
            &controller_env,
        )?);

        // The API server (no UI assets here: the module zip carries none), on loopback only.
        let mut server_args = pod_args(&server);
        server_args.extend([
            "--address=127.0.0.1".to_string(),
            format!("--port={}", free_port()?),
            "--metrics-address=127.0.0.1".to_string(),
            format!("--metrics-port={}", free_port()?),
            format!("--redis={redis_address}"),
            format!("--repo-server=127.0.0.1:{repo_port}"),
            format!("--namespace={NAMESPACE}"),
        ]);
        let server_env = self.process_env(server_env, "argocd-server")?;
        processes.push(self.spawn("argocd-server", &server_args, &server_env)?);
        eprintln!(
            "[argocd] application-controller, repo-server and server started from the chart's workloads (logs in {})",
            self.dir.display()
        );
        Ok(processes)
    }

    /// The pod's environment as the chart set it, with what only makes sense inside a pod (paths
    /// of mounted volumes, the in-cluster API) pointed at this machine.
    fn process_env(
        &self,
        mut env: BTreeMap<String, String>,
        role: &str,
    ) -> Result<BTreeMap<String, String>> {
        let home = self.dir.join(role);
        let folder = |name: &str| -> Result<String> {
            let path = home.join(name);
            std::fs::create_dir_all(&path).map_err(io_err(format!("create {}", path.display())))?;
            Ok(path.display().to_string())
        };
        for (key, name) in [
            ("ARGOCD_TLS_DATA_PATH", "tls"),
            ("ARGOCD_SSH_DATA_PATH", "ssh"),
            ("ARGOCD_GNUPGHOME", "gnupg"),
            ("ARGOCD_GPG_DATA_PATH", "gpg"),
            ("KUBECACHEDIR", "kubecache"),
            ("HELM_CACHE_HOME", "helm/cache"),
            ("HELM_CONFIG_HOME", "helm/config"),
            ("HELM_DATA_HOME", "helm/data"),
            ("TMPDIR", "tmp"),
            ("HOME", "home"),
        ] {
            env.insert(key.into(), folder(name)?);
        }
        env.insert(
            "ARGOCD_PLUGINSOCKFILEPATH".into(),
            folder("plugins")?.to_string(),
        );
        env.insert("ARGOCD_GPG_ENABLED".into(), "false".into());
        // One process plays every replica the chart asks for (the shard comes from a pod's
        // hostname otherwise).
        env.insert("ARGOCD_CONTROLLER_REPLICAS".into(), "1".into());
        env.insert("ARGOCD_FAKE_IN_CLUSTER".into(), "true".into());
        env.insert("ARGOCD_BINARY_NAME".into(), role.into());
        env.insert("KUBECONFIG".into(), self.kubeconfig.display().to_string());
        // The repo-server runs helm, git and the GPG wrappers the module ships beside the binary.
        let tools = [
            self.argocd.parent().unwrap_or(Path::new("/")),
            self.helm.parent().unwrap_or(Path::new("/")),
        ];
        let path = std::env::var("PATH").unwrap_or_default();
        env.insert(
            "PATH".into(),
            format!("{}:{}:{path}", tools[0].display(), tools[1].display()),
        );
        Ok(env)
    }

    fn spawn(
        &self,
        role: &str,
        args: &[String],
        env: &BTreeMap<String, String>,
    ) -> Result<ManagedProcess> {
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        ManagedProcess::spawn(
            role,
            &self.argocd,
            args,
            &pairs,
            self.dir.join(format!("{role}.log")),
        )
    }
}

fn first_container(spec: Option<k8s_openapi::api::core::v1::PodSpec>) -> Option<Container> {
    spec.and_then(|s| s.containers.into_iter().next())
}

/// The container's arguments less the binary (the multicall binary takes its role from
/// `ARGOCD_BINARY_NAME`).
fn pod_args(container: &Container) -> Vec<String> {
    let mut args: Vec<String> = container
        .command
        .clone()
        .unwrap_or_default()
        .into_iter()
        .chain(container.args.clone().unwrap_or_default())
        .collect();
    if args.first().is_some_and(|a| a.starts_with('/')) {
        args.remove(0);
    }
    args
}

/// The container's environment as a kubelet resolves it: plain values, and ConfigMap and Secret
/// keys (a reference that is missing is left out).
async fn resolve_env(
    client: &kube::Client,
    container: &Container,
) -> Result<BTreeMap<String, String>> {
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    let mut env = BTreeMap::new();
    for var in container.env.clone().unwrap_or_default() {
        if let Some(value) = var.value {
            env.insert(var.name, value);
            continue;
        }
        let Some(from) = var.value_from else {
            continue;
        };
        if let Some(key) = from.config_map_key_ref {
            let map = config_maps
                .get_opt(&key.name)
                .await
                .map_err(kube_err(format!("read ConfigMap {NAMESPACE}/{}", key.name)))?;
            if let Some(value) = map
                .and_then(|m| m.data)
                .and_then(|d| d.get(&key.key).cloned())
            {
                env.insert(var.name, value);
            }
        } else if let Some(key) = from.secret_key_ref {
            let secret = secrets
                .get_opt(&key.name)
                .await
                .map_err(kube_err(format!("read Secret {NAMESPACE}/{}", key.name)))?;
            if let Some(value) = secret
                .and_then(|s| s.data)
                .and_then(|d| d.get(&key.key).cloned())
            {
                env.insert(var.name, String::from_utf8_lossy(&value.0).to_string());
            }
        }
    }
    Ok(env)
}
