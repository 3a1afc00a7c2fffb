//! Capacity planning: replicas, nodes and monthly cost for a request rate, from the rendered tree and tacos.yaml, and what caps it.

pub mod assessment;
pub mod bottlenecks;
pub mod build;
pub mod chart;
pub mod model;
pub mod origin;
pub mod packing;
pub mod pricing;
pub mod table;
#[cfg(test)]
pub(crate) mod testing;

use std::path::{Path, PathBuf};

pub use assessment::{Assessment, assess, check_fit};
pub use build::build_model;
pub use model::Model;
pub use origin::SettingsFile;

use crate::config::{ConfigError, ConfigFile};
use crate::lint::RPS_PER_POD_ANNOTATION;
use crate::repo::yaml::YamlError;
use crate::repo::{LoadError, LoadOptions, Location, load};

/// Why the model could not be built: something missing or inconsistent in the tree or tacos.yaml.
#[derive(Debug, thiserror::Error)]
pub enum CapacityError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(
        "helm not found at {path} (from --helm or TACOS_HELM): the services' charts are rendered with `helm template`; point TACOS_HELM at helm v3.8+"
    )]
    HelmNotFound { path: PathBuf },
    #[error(
        "helm is not on PATH: the services' charts are rendered with `helm template`; install helm v3.8+ or set TACOS_HELM to its path"
    )]
    HelmNotOnPath,
    #[error("failed to read {path}")]
    ReadSettings {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to parse {path}")]
    ParseSettings {
        path: PathBuf,
        #[source]
        source: YamlError,
    },
    #[error("{location}: {field} is not set; tacos capacity needs {what}")]
    MissingSetting {
        location: Location,
        field: String,
        what: &'static str,
    },
    #[error(
        "{location}: capacity.shares names {service}, but the tree has no Deployment or StatefulSet {service} in namespace {namespace} (charts rendered); fix the name or the environment's appNamespace"
    )]
    ServiceNotInTree {
        location: Location,
        service: String,
        namespace: String,
    },
    #[error(
        "{location}: {subject} declares {RPS_PER_POD_ANNOTATION} but capacity.shares has no share for it; add its calls per gateway-api request"
    )]
    ShareMissing { location: Location, subject: String },
    #[error(
        "{location}: {subject} has no positive numeric {RPS_PER_POD_ANNOTATION} annotation (capacity.rpsPerPod of the tacos-service chart); tacos capacity needs what one pod serves"
    )]
    RpsPerPodMissing { location: Location, subject: String },
    #[error("{location}: {subject}: {variable} is {value:?}, not a whole number of connections")]
    PoolSizeInvalid {
        location: Box<Location>,
        subject: String,
        variable: String,
        value: String,
    },
}

/// The helm to render with: `given` (from --helm or TACOS_HELM) when set, which must exist, else `helm` on PATH.
pub fn find_helm(given: Option<&Path>) -> Result<PathBuf, CapacityError> {
    if let Some(path) = given {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(CapacityError::HelmNotFound {
                path: path.to_path_buf(),
            })
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("helm"))
        .find(|candidate| candidate.is_file())
        .ok_or(CapacityError::HelmNotOnPath)
}

/// The model of the repository at `repo` for environment `environment` (None: the default) of the
/// tacos.yaml at `config`, its Applications' charts rendered with `helm`. What `tacos capacity`
/// assesses, and what a load test's preflight passes to `check_fit`.
pub fn load_model(
    repo: &Path,
    config: &Path,
    environment: Option<&str>,
    helm: &Path,
) -> Result<Model, CapacityError> {
    let file = ConfigFile::load(config)?;
    let (name, settings_of_environment) = file.environment(config, environment)?;
    let settings = SettingsFile::read(config, &name)?;
    let options = LoadOptions {
        render_charts: true,
        helm: Some(helm.to_path_buf()),
    };
    let tree = load(&[repo.to_path_buf()], &options)?;
    build_model(&tree, &name, settings_of_environment, &settings)
}

/// A number for people: thousands grouped, at most two decimals (65,000, 1,234.5, 0.33).
pub fn show_number(value: f64) -> String {
    let text = format!("{:.2}", value.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let fraction = fraction.trim_end_matches('0');
    let mut grouped = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let rounds_to_zero = text.trim_matches(['0', '.']).is_empty();
    let sign = if value < 0.0 && !rounds_to_zero {
        "-"
    } else {
        ""
    };
    if fraction.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{fraction}")
    }
}

/// US dollars with cents and grouped thousands: $12,345.60.
pub fn show_usd(value: f64) -> String {
    let cents = format!("{:.2}", value.abs());
    let (whole, fraction) = cents.split_once('.').unwrap_or((&cents, "00"));
    let whole = show_number(whole.parse::<f64>().unwrap_or(0.0));
    let sign = if value < 0.0 { "-" } else { "" };
    format!("{sign}${whole}.{fraction}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_group_thousands_and_drop_trailing_zeros() {
        assert_eq!(show_number(65_000.0), "65,000");
        assert_eq!(show_number(1_234.5), "1,234.5");
        assert_eq!(show_number(999.0), "999");
        assert_eq!(show_number(0.333), "0.33");
        assert_eq!(show_number(-1_500.0), "-1,500");
        assert_eq!(show_number(1_000_000.0), "1,000,000");
    }

    #[test]
    fn dollars_keep_their_cents() {
        assert_eq!(show_usd(2_354.688), "$2,354.69");
        assert_eq!(show_usd(0.0), "$0.00");
        assert_eq!(show_usd(1_000.1), "$1,000.10");
    }
}
