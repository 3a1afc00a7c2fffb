//! The load shapes of k6/scenarios/stages.json (the one source the k6 scripts read too): each scenario's stages and the rate it asks at any moment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::Scenario;

/// Where the shapes are written, relative to the repository.
pub const STAGES_FILE: &str = "k6/scenarios/stages.json";

#[derive(Debug, thiserror::Error)]
pub enum ShapeError {
    #[error("failed to read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A rate as stages.json writes it: requests per second, or one of the environment's two rates.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Rate {
    Named(NamedRate),
    Rps(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NamedRate {
    Sustained,
    Spike,
}

impl Rate {
    fn resolve(self, sustained: f64, spike: f64) -> f64 {
        match self {
            Rate::Rps(rps) => rps,
            Rate::Named(NamedRate::Sustained) => sustained,
            Rate::Named(NamedRate::Spike) => spike,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StageFile {
    target: Rate,
    duration: String,
    #[allow(dead_code)]
    duration_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ScenarioFile {
    start_rate: Rate,
    stages: Vec<StageFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    #[allow(dead_code)]
    description: Option<String>,
    scenarios: std::collections::BTreeMap<String, ScenarioFile>,
}

/// One stage: the rate moves linearly from the previous stage's target to `target` over `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub target_rps: f64,
    pub duration: Duration,
}

/// A scenario's load over time, rates resolved for an environment.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadShape {
    pub start_rps: f64,
    pub stages: Vec<Stage>,
}

impl LoadShape {
    /// Reads `scenario`'s shape from the repository's stages.json, its named rates resolved to
    /// `sustained` and `spike` requests per second.
    pub fn read(
        repo: &Path,
        scenario: Scenario,
        sustained: f64,
        spike: f64,
    ) -> Result<Self, ShapeError> {
        let path = repo.join(STAGES_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| ShapeError::Read {
            path: path.clone(),
            message: e.to_string(),
        })?;
        Self::parse(&path, &text, scenario, sustained, spike)
    }

    fn parse(
        path: &Path,
        text: &str,
        scenario: Scenario,
        sustained: f64,
        spike: f64,
    ) -> Result<Self, ShapeError> {
        let invalid = |message: String| ShapeError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let plan: PlanFile = serde_json::from_str(text)
            .map_err(|e| invalid(format!("line {}: {e}", e.line())))?;
        let name = scenario.shape_name();
        let shape = plan.scenarios.get(name).ok_or_else(|| {
            invalid(format!(
                "no scenario \"{name}\" under scenarios (has: {})",
                plan.scenarios.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        let mut stages = Vec::new();
        for (index, stage) in shape.stages.iter().enumerate() {
            let duration = parse_k6_duration(&stage.duration).ok_or_else(|| {
                invalid(format!(
                    "scenarios.{name}.stages[{index}].duration: \"{}\" is not a k6 duration like 30s, 10m or 1m30s",
                    stage.duration
                ))
            })?;
            stages.push(Stage {
                target_rps: stage.target.resolve(sustained, spike),
                duration,
            });
        }
        if stages.is_empty() {
            return Err(invalid(format!("scenarios.{name}.stages is empty")));
        }
        Ok(Self {
            start_rps: shape.start_rate.resolve(sustained, spike),
            stages,
        })
    }

    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The rate asked `elapsed` into the run (the last target after the end), as k6's
    /// ramping-arrival-rate moves it.
    pub fn rate_at(&self, elapsed: Duration) -> f64 {
        let mut from = self.start_rps;
        let mut left = elapsed;
        for stage in &self.stages {
            if left < stage.duration {
                let fraction = left.as_secs_f64() / stage.duration.as_secs_f64();
                return from + (stage.target_rps - from) * fraction;
            }
            left -= stage.duration;
            from = stage.target_rps;
        }
        from
    }

    /// The highest rate the shape asks, and when it first asks it.
    pub fn peak(&self) -> (f64, Duration) {
        let mut best = (self.start_rps, Duration::ZERO);
        let mut at = Duration::ZERO;
        for stage in &self.stages {
            at += stage.duration;
            if stage.target_rps > best.0 {
                best = (stage.target_rps, at);
            }
        }
        best
    }
}

/// k6's duration strings: whole or decimal numbers with h, m, s or ms units, concatenated (`1m30s`).
pub fn parse_k6_duration(text: &str) -> Option<Duration> {
    let mut total = 0.0_f64;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * seconds;
    }
    Some(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn k6_durations_read_as_k6_writes_them() {
        assert_eq!(parse_k6_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_k6_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_k6_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_k6_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_k6_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_k6_duration("10"), None);
        assert_eq!(parse_k6_duration("10d"), None);
        assert_eq!(parse_k6_duration(""), None);
    }

    #[test]
    fn the_ramp_rises_linearly_to_the_sustained_rate_and_holds_it() {
        let ramp = LoadShape::read(&repo(), Scenario::Ramp, 30_000.0, 50_000.0).unwrap();
        assert_eq!(ramp.duration(), Duration::from_secs(600));
        assert_eq!(ramp.rate_at(Duration::ZERO), 0.0);
        assert_eq!(ramp.rate_at(Duration::from_secs(300)), 15_000.0);
        assert_eq!(ramp.rate_at(Duration::from_secs(900)), 30_000.0);
        assert_eq!(ramp.peak(), (30_000.0, Duration::from_secs(600)));
    }

    #[test]
    fn the_spike_rises_holds_and_falls_back_to_the_sustained_rate() {
        let spike = LoadShape::read(&repo(), Scenario::Spike, 30_000.0, 50_000.0).unwrap();
        assert_eq!(spike.start_rps, 30_000.0);
        assert_eq!(spike.rate_at(Duration::from_secs(15)), 40_000.0);
        assert_eq!(spike.rate_at(Duration::from_secs(200)), 50_000.0);
        assert_eq!(spike.rate_at(Duration::from_secs(390)), 30_000.0);
        assert_eq!(spike.peak(), (50_000.0, Duration::from_secs(30)));
        let e2e = LoadShape::read(&repo(), Scenario::E2e, 30_000.0, 50_000.0).unwrap();
        assert_eq!(e2e.duration(), Duration::from_secs(600 + 1800 + 30 + 300 + 60));
    }

    #[test]
    fn a_bad_shape_is_named_with_its_place() {
        let path = Path::new("k6/scenarios/stages.json");
        let missing = LoadShape::parse(path, r#"{"scenarios": {}}"#, Scenario::Ramp, 1.0, 2.0)
            .unwrap_err()
            .to_string();
        assert!(missing.contains("no scenario \"ramp\""), "{missing}");
        let bad = r#"{"scenarios": {"ramp": {"startRate": 0, "stages": [{"target": 5, "duration": "ten"}]}}}"#;
        let message = LoadShape::parse(path, bad, Scenario::Ramp, 1.0, 2.0)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("scenarios.ramp.stages[0].duration: \"ten\""),
            "{message}"
        );
        let typo = r#"{"scenarios": {"ramp": {"startRate": 0, "stages": [{"target": "sustain", "duration": "1m"}]}}}"#;
        let message = LoadShape::parse(path, typo, Scenario::Ramp, 1.0, 2.0)
            .unwrap_err()
            .to_string();
        assert!(message.contains("line 1"), "{message}");
    }
}
