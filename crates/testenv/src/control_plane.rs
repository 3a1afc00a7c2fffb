//! etcd + kube-apiserver on loopback with RBAC, the default admission plugins (PodSecurity included) and a kubeconfig for an admin.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::pki::Pki;
use crate::process::ManagedProcess;
use crate::{Binaries, Result, TestenvError, free_port, io_err, kube_err};

/// How to start a control plane.
#[derive(Debug, Clone)]
pub struct ControlPlaneOptions {
    /// Install the upstream and stand-in CRDs (and wait until each is Established).
    pub install_crds: bool,
    /// Upstream CRD folders (by name, e.g. "gateway-api") left out: what the code under test installs itself.
    pub skip_crds: Vec<String>,
    /// How long the apiserver may take to report /readyz.
    pub ready_timeout: Duration,
}

impl Default for ControlPlaneOptions {
    fn default() -> Self {
        Self {
            install_crds: true,
            skip_crds: Vec::new(),
            ready_timeout: Duration::from_secs(90),
        }
    }
}

/// A running etcd + kube-apiserver. Dropping it stops both and deletes their data.
#[derive(Debug)]
pub struct ControlPlane {
    pub binaries: Binaries,
    /// `https://127.0.0.1:PORT`
    pub server: String,
    /// An admin (system:masters) kubeconfig for this control plane.
    pub kubeconfig: PathBuf,
    pub pki: Pki,
    apiserver_args: Vec<String>,
    apiserver: Mutex<Option<ManagedProcess>>,
    etcd: Mutex<Option<ManagedProcess>>,
    dir: tempfile::TempDir,
}

/// How many times [`ControlPlane::start`] picks new ports when one it picked was taken before
/// etcd or the apiserver could bind it (another process's, between the pick and the bind).
const PORT_ATTEMPTS: usize = 3;

impl ControlPlane {
    pub async fn start(options: ControlPlaneOptions) -> Result<Self> {
        let mut attempt = 1;
        loop {
            match Self::start_once(&options).await {
                Err(TestenvError::NotReady { tail, .. })
                    if attempt < PORT_ATTEMPTS && tail.contains("address already in use") =>
                {
                    attempt += 1;
                }
                started => return started,
            }
        }
    }

    async fn start_once(options: &ControlPlaneOptions) -> Result<Self> {
        let binaries = Binaries::locate()?;
        binaries.require("etcd", &binaries.etcd)?;
        binaries.require("kube-apiserver", &binaries.kube_apiserver)?;
        let dir = run_dir("cp")?;
        let pki = Pki::generate(dir.path())?;

        let etcd_port = free_port()?;
        let peer_port = free_port()?;
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let etcd_args = vec![
            format!("--data-dir={}", dir.path().join("etcd").display()),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster=default={peer_url}"),
            "--unsafe-no-fsync=true".to_string(),
            "--quota-backend-bytes=4294967296".to_string(),
            "--log-level=warn".to_string(),
        ];
        let etcd = ManagedProcess::spawn(
            "etcd",
            &binaries.etcd,
            &etcd_args,
            &[],
            dir.path().join("etcd.log"),
        )?;

        let port = free_port()?;
        let server = format!("https://127.0.0.1:{port}");
        let apiserver_args = vec![
            format!("--etcd-servers={etcd_url}"),
            "--bind-address=127.0.0.1".to_string(),
            "--advertise-address=127.0.0.1".to_string(),
            format!("--secure-port={port}"),
            format!("--cert-dir={}", dir.path().join("certs").display()),
            format!("--tls-cert-file={}", pki.serving_cert.display()),
            format!("--tls-private-key-file={}", pki.serving_key.display()),
            format!("--client-ca-file={}", pki.ca_cert.display()),
            format!(
                "--service-account-key-file={}",
                pki.service_account_pub.display()
            ),
            format!(
                "--service-account-signing-key-file={}",
                pki.service_account_key.display()
            ),
            // The issuer EKS reports for the emulator's clusters: tacos's cluster guard compares them.
            format!(
                "--service-account-issuer={}",
                crate::aws::eks_issuer(crate::aws::MOTO_SEED, crate::aws::REGION)?
            ),
            "--service-cluster-ip-range=10.96.0.0/16".to_string(),
            "--authorization-mode=RBAC".to_string(),
            "--allow-privileged=true".to_string(),
            "--enable-priority-and-fairness=false".to_string(),
            "--v=1".to_string(),
        ];
        // The aggregation layer (metrics-server's APIService): the apiserver proxies as the admin and
        // passes the caller on in request headers that aggregated servers trust by this CA.
        let kubeconfig = dir.path().join("kubeconfig");
        write_kubeconfig(&kubeconfig, dir.path(), &server, &pki)?;
        let (admin_cert, admin_key) = (dir.path().join("admin.crt"), dir.path().join("admin.key"));
        let mut apiserver_args = apiserver_args;
        apiserver_args.extend([
            format!("--requestheader-client-ca-file={}", pki.ca_cert.display()),
            "--requestheader-username-headers=X-Remote-User".to_string(),
            "--requestheader-group-headers=X-Remote-Group".to_string(),
            "--requestheader-extra-headers-prefix=X-Remote-Extra-".to_string(),
            "--requestheader-allowed-names=tacos-testenv-admin".to_string(),
            format!("--proxy-client-cert-file={}", admin_cert.display()),
            format!("--proxy-client-key-file={}", admin_key.display()),
        ]);
        let apiserver = ManagedProcess::spawn(
            "kube-apiserver",
            &binaries.kube_apiserver,
            &apiserver_args,
            &[],
            dir.path().join("kube-apiserver.log"),
        )?;

        let plane = Self {
            binaries,
            server,
            kubeconfig,
            pki,
            apiserver_args,
            apiserver: Mutex::new(Some(apiserver)),
            etcd: Mutex::new(Some(etcd)),
            dir,
        };
        plane.wait_ready(options.ready_timeout).await?;
        if options.install_crds {
            crate::crds::install_all(&plane.client().await?, &plane.binaries, &options.skip_crds)
                .await?;
        }
        Ok(plane)
    }

    /// The folder holding this control plane's data, logs and kubeconfig.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A new admin client (make one per test: a client belongs to the tokio runtime that made it).
    pub async fn client(&self) -> Result<kube::Client> {
        client_from_kubeconfig(&self.kubeconfig).await
    }

    /// A client that impersonates `user` (e.g. `system:serviceaccount:NS:NAME`), to test what a least-privileged identity may do.
    pub async fn client_as(&self, user: &str) -> Result<kube::Client> {
        let kubeconfig =
            Kubeconfig::read_from(&self.kubeconfig).map_err(|e| TestenvError::Parse {
                path: self.kubeconfig.clone(),
                message: e.to_string(),
            })?;
        let mut config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| TestenvError::Parse {
                    path: self.kubeconfig.clone(),
                    message: e.to_string(),
                })?;
        config.auth_info.impersonate = Some(user.to_string());
        kube::Client::try_from(config).map_err(kube_err("build an impersonating kube client"))
    }

    /// Creates a uniquely named namespace with its `default` ServiceAccount (which the
    /// controller-manager would create on a full cluster) and returns its name.
    pub async fn fresh_namespace(&self, prefix: &str) -> Result<String> {
        fresh_namespace(&self.client().await?, prefix).await
    }

    /// Stops the apiserver (etcd keeps its data), to test what tacos does when the cluster goes away.
    pub fn stop_apiserver(&self) {
        if let Some(mut process) = lock(&self.apiserver).take() {
            process.stop();
        }
    }

    /// Starts the apiserver again on the same port and data, and waits until it is ready.
    pub async fn restart_apiserver(&self) -> Result<()> {
        self.stop_apiserver();
        let process = ManagedProcess::spawn(
            "kube-apiserver",
            &self.binaries.kube_apiserver,
            &self.apiserver_args,
            &[],
            self.dir.path().join("kube-apiserver-restarted.log"),
        )?;
        *lock(&self.apiserver) = Some(process);
        self.wait_ready(Duration::from_secs(90)).await
    }

    async fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            if let Ok(client) = self.client().await {
                let request = http::Request::get("/readyz")
                    .body(Vec::new())
                    .expect("static request");
                if let Ok(body) = client.request_text(request).await
                    && body.trim() == "ok"
                {
                    return Ok(());
                }
            }
            let exited = {
                let mut guard = lock(&self.apiserver);
                guard.as_mut().is_some_and(|p| p.has_exited())
                    || lock(&self.etcd).as_mut().is_some_and(|p| p.has_exited())
            };
            if exited || started.elapsed() > timeout {
                let guard = lock(&self.apiserver);
                let (log, tail) = guard
                    .as_ref()
                    .map(|p| (p.log.clone(), p.log_tail(25)))
                    .unwrap_or_default();
                let etcd_tail = lock(&self.etcd)
                    .as_ref()
                    .map(|p| p.log_tail(10))
                    .unwrap_or_default();
                return Err(TestenvError::NotReady {
                    what: "kube-apiserver".into(),
                    seconds: started.elapsed().as_secs(),
                    log,
                    tail: format!("{tail}\n--- etcd ---\n{etcd_tail}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop_apiserver();
        if let Some(mut etcd) = lock(&self.etcd).take() {
            etcd.stop();
        }
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A kube client for a kubeconfig file (its current context).
pub async fn client_from_kubeconfig(path: &Path) -> Result<kube::Client> {
    let kubeconfig = Kubeconfig::read_from(path).map_err(|e| TestenvError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| TestenvError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    kube::Client::try_from(config).map_err(kube_err("build a kube client"))
}

pub(crate) async fn fresh_namespace(client: &kube::Client, prefix: &str) -> Result<String> {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("{prefix}-{}-{n}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .map_err(kube_err(format!("create namespace {name}")))?;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
    let default = ServiceAccount {
        metadata: ObjectMeta {
            name: Some("default".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match accounts.create(&PostParams::default(), &default).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => return Err(kube_err(format!("create ServiceAccount {name}/default"))(e)),
    }
    Ok(name)
}

fn write_kubeconfig(path: &Path, dir: &Path, server: &str, pki: &Pki) -> Result<()> {
    let cert = dir.join("admin.crt");
    let key = dir.join("admin.key");
    std::fs::write(&cert, &pki.admin_cert_pem).map_err(io_err("write admin.crt"))?;
    std::fs::write(&key, &pki.admin_key_pem).map_err(io_err("write admin.key"))?;
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: tacos-local\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\n\
users:\n- name: admin\n  user:\n    client-certificate: {cert}\n    client-key: {key}\n\
contexts:\n- name: tacos-local\n  context:\n    cluster: tacos-local\n    user: admin\ncurrent-context: tacos-local\n",
        ca = pki.ca_cert.display(),
        cert = cert.display(),
        key = key.display(),
    );
    std::fs::write(path, text).map_err(io_err(format!("write {}", path.display())))
}

/// A folder for one run under `$TMPDIR/tacos-testenv/`, after sweeping folders of runs whose
/// process is gone (a shared control plane lives in a static and is never dropped).
pub(crate) fn run_dir(kind: &str) -> Result<tempfile::TempDir> {
    let root = std::env::temp_dir().join("tacos-testenv");
    std::fs::create_dir_all(&root).map_err(io_err(format!("create {}", root.display())))?;
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries.flatten() {
            let owner = std::fs::read_to_string(entry.path().join("owner.pid"))
                .ok()
                .and_then(|pid| pid.trim().parse::<i32>().ok());
            // SAFETY: signal 0 only checks whether the pid exists.
            if let Some(pid) = owner
                && unsafe { libc::kill(pid, 0) } != 0
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = tempfile::Builder::new()
        .prefix(&format!("{kind}-"))
        .tempdir_in(&root)
        .map_err(io_err("create a run folder"))?;
    std::fs::write(dir.path().join("owner.pid"), std::process::id().to_string())
        .map_err(io_err("write owner.pid"))?;
    Ok(dir)
}
