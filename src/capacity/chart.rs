//! An SVG chart (hand-written text) of total replicas and monthly cost against the request rate, from 0 to the target.

use std::fmt::Write;

use super::assessment::plan;
use super::model::Model;
use super::pricing::Cost;
use super::show_number;

/// Steps from 0 to the target: 21 points.
pub const STEPS: u32 = 20;

/// The platform at one request rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartPoint {
    pub rps: f64,
    /// Replicas the autoscalers run, all services together.
    pub replicas: u64,
    pub cost: Cost,
}

/// The points from 0 to `target_rps`, STEPS apart.
pub fn points(model: &Model, target_rps: f64) -> Vec<ChartPoint> {
    (0..=STEPS)
        .map(|step| {
            let rps = target_rps * f64::from(step) / f64::from(STEPS);
            let pods: Vec<u64> = model
                .services
                .iter()
                .map(|service| service.running_replicas(rps))
                .collect();
            let replicas = pods.iter().sum();
            ChartPoint {
                rps,
                replicas,
                cost: plan(model, pods).cost,
            }
        })
        .collect()
}

const WIDTH: f64 = 880.0;
const HEIGHT: f64 = 520.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 790.0;
const TOP: f64 = 80.0;
const BOTTOM: f64 = 440.0;

const REPLICAS_COLOR: &str = "#1f77b4";
const ON_DEMAND_COLOR: &str = "#d62728";
const SPOT_MIX_COLOR: &str = "#2ca02c";

/// An axis from 0 to a round top, with its tick step.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Axis {
    top: f64,
    step: f64,
}

impl Axis {
    /// About five ticks of 1, 2 or 5 x 10^n reaching at least `largest`.
    fn covering(largest: f64) -> Axis {
        let largest = if largest.is_finite() && largest > 0.0 {
            largest
        } else {
            1.0
        };
        let rough = largest / 5.0;
        let magnitude = 10f64.powf(rough.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|m| m * magnitude)
            .find(|step| *step >= rough)
            .unwrap_or(10.0 * magnitude);
        Axis {
            top: (largest / step).ceil() * step,
            step,
        }
    }

    fn ticks(&self) -> impl Iterator<Item = f64> + '_ {
        let count = (self.top / self.step).round() as u32;
        (0..=count).map(move |i| f64::from(i) * self.step)
    }
}

/// One line of the chart: its element id, look, axis and value at a point.
struct Series<'a> {
    id: &'static str,
    color: &'static str,
    dash: &'static str,
    axis: &'a Axis,
    value: fn(&ChartPoint) -> f64,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart for `target_rps`, with the sustained rate and the target marked.
pub fn render(model: &Model, target_rps: f64) -> String {
    let points = points(model, target_rps);
    let x_axis = Axis {
        top: target_rps.max(1.0),
        step: Axis::covering(target_rps).step,
    };
    let replicas_axis =
        Axis::covering(points.iter().map(|p| p.replicas as f64).fold(0.0, f64::max));
    let cost_axis = Axis::covering(
        points
            .iter()
            .map(|p| p.cost.all_on_demand_usd)
            .fold(0.0, f64::max),
    );
    let x = |rps: f64| LEFT + (RIGHT - LEFT) * rps / x_axis.top;
    let y = |value: f64, axis: &Axis| BOTTOM - (BOTTOM - TOP) * value / axis.top;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let title = format!(
        "Traffic Tacos capacity ({}): replicas and monthly cost against gateway-api RPS, 0 to {}",
        escape(&model.environment),
        show_number(target_rps)
    );
    let _ = writeln!(svg, "  <title>{title}</title>");
    let _ = writeln!(
        svg,
        r##"  <rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        svg,
        r#"  <text x="{}" y="28" text-anchor="middle" font-size="16" font-weight="bold">{title}</text>"#,
        WIDTH / 2.0
    );
    // Grid and left axis (replicas).
    let _ = writeln!(svg, r#"  <g id="axis-replicas" fill="{REPLICAS_COLOR}">"#);
    for tick in replicas_axis.ticks() {
        let ty = y(tick, &replicas_axis);
        let _ = writeln!(
            svg,
            r##"    <line x1="{LEFT}" y1="{ty:.1}" x2="{RIGHT}" y2="{ty:.1}" stroke="#e0e0e0"/>"##
        );
        let _ = writeln!(
            svg,
            r#"    <text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 8.0,
            ty + 4.0,
            show_number(tick)
        );
    }
    let _ = writeln!(
        svg,
        r#"    <text transform="translate(22 {:.1}) rotate(-90)" text-anchor="middle">total replicas</text>"#,
        (TOP + BOTTOM) / 2.0
    );
    let _ = writeln!(svg, "  </g>");
    // Right axis (cost).
    let _ = writeln!(svg, r#"  <g id="axis-cost" fill="{ON_DEMAND_COLOR}">"#);
    for tick in cost_axis.ticks() {
        let _ = writeln!(
            svg,
            r#"    <text x="{:.1}" y="{:.1}">${}</text>"#,
            RIGHT + 8.0,
            y(tick, &cost_axis) + 4.0,
            show_number(tick)
        );
    }
    let _ = writeln!(
        svg,
        r#"    <text transform="translate({:.1} {:.1}) rotate(90)" text-anchor="middle">monthly cost, USD (730 h)</text>"#,
        WIDTH - 12.0,
        (TOP + BOTTOM) / 2.0
    );
    let _ = writeln!(svg, "  </g>");
    // Bottom axis (RPS).
    let _ = writeln!(svg, r#"  <g id="axis-rps">"#);
    let _ = writeln!(
        svg,
        r##"    <line x1="{LEFT}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}" stroke="#333333"/>"##
    );
    let _ = writeln!(
        svg,
        r##"    <line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{BOTTOM}" stroke="#333333"/>"##
    );
    let _ = writeln!(
        svg,
        r##"    <line x1="{RIGHT}" y1="{TOP}" x2="{RIGHT}" y2="{BOTTOM}" stroke="#333333"/>"##
    );
    for tick in x_axis.ticks().filter(|t| *t <= x_axis.top + 1e-9) {
        let tx = x(tick);
        let _ = writeln!(
            svg,
            r##"    <line x1="{tx:.1}" y1="{BOTTOM}" x2="{tx:.1}" y2="{:.1}" stroke="#333333"/>"##,
            BOTTOM + 5.0
        );
        let _ = writeln!(
            svg,
            r#"    <text x="{tx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            BOTTOM + 20.0,
            show_number(tick)
        );
    }
    let _ = writeln!(
        svg,
        r#"    <text x="{:.1}" y="{:.1}" text-anchor="middle">gateway-api requests per second</text>"#,
        (LEFT + RIGHT) / 2.0,
        BOTTOM + 45.0
    );
    let _ = writeln!(svg, "  </g>");
    // Markers: the sustained rate and the target.
    let _ = writeln!(svg, r##"  <g id="markers" fill="#555555">"##);
    for (rps, label) in [(model.sustained_rps, "sustained"), (target_rps, "target")] {
        if rps <= 0.0 || rps > x_axis.top + 1e-9 {
            continue;
        }
        let mx = x(rps);
        let _ = writeln!(
            svg,
            r##"    <line x1="{mx:.1}" y1="{TOP}" x2="{mx:.1}" y2="{BOTTOM}" stroke="#999999" stroke-dasharray="2 3"/>"##
        );
        let _ = writeln!(
            svg,
            r#"    <text x="{:.1}" y="{:.1}" text-anchor="end">{label} {}</text>"#,
            mx - 4.0,
            TOP + 14.0,
            show_number(rps)
        );
    }
    let _ = writeln!(svg, "  </g>");
    let series = [
        Series {
            id: "series-replicas",
            color: REPLICAS_COLOR,
            dash: "",
            axis: &replicas_axis,
            value: |p| p.replicas as f64,
        },
        Series {
            id: "series-cost-on-demand",
            color: ON_DEMAND_COLOR,
            dash: r#" stroke-dasharray="6 4""#,
            axis: &cost_axis,
            value: |p| p.cost.all_on_demand_usd,
        },
        Series {
            id: "series-cost-spot-mix",
            color: SPOT_MIX_COLOR,
            dash: "",
            axis: &cost_axis,
            value: |p| p.cost.spot_mix_usd,
        },
    ];
    for line in &series {
        let coordinates: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.rps), y((line.value)(p), line.axis)))
            .collect();
        let _ = writeln!(
            svg,
            r#"  <polyline id="{}" fill="none" stroke="{}" stroke-width="2"{} points="{}"/>"#,
            line.id,
            line.color,
            line.dash,
            coordinates.join(" ")
        );
    }
    let legend = [
        (REPLICAS_COLOR, "total replicas (left)"),
        (ON_DEMAND_COLOR, "monthly cost, all on-demand (right)"),
        (SPOT_MIX_COLOR, "monthly cost, spot mix (right)"),
    ];
    let _ = writeln!(svg, r#"  <g id="legend">"#);
    let mut lx = LEFT;
    for (color, label) in legend {
        let _ = writeln!(
            svg,
            r#"    <line x1="{lx}" y1="52" x2="{:.1}" y2="52" stroke="{color}" stroke-width="3"/>"#,
            lx + 20.0
        );
        let _ = writeln!(
            svg,
            r#"    <text x="{:.1}" y="56">{label}</text>"#,
            lx + 26.0
        );
        // About 6.5 px per character at font-size 12.
        lx += 26.0 + 6.5 * label.len() as f64 + 24.0;
    }
    let _ = writeln!(svg, "  </g>");
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::testing::{c7i_pool, gateway, model};

    #[test]
    fn points_run_from_zero_to_the_target_in_twenty_steps() {
        let model = model(vec![gateway()], vec![c7i_pool("a", 0.0, 20)]);
        let points = points(&model, 50_000.0);
        assert_eq!(points.len(), 21);
        assert_eq!(points[0].rps, 0.0);
        assert_eq!(points[0].replicas, 10, "the minimum runs at 0 RPS");
        assert_eq!(points[20].rps, 50_000.0);
        assert_eq!(points[20].replicas, 84);
        assert_eq!(points[20].cost.nodes, 6, "84 one-cpu pods on 15-cpu nodes");
    }

    #[test]
    fn svg_has_the_three_series_and_balanced_groups() {
        let model = model(vec![gateway()], vec![c7i_pool("a", 0.5, 20)]);
        let svg = render(&model, 50_000.0);
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        for id in [
            "series-replicas",
            "series-cost-on-demand",
            "series-cost-spot-mix",
        ] {
            assert!(svg.contains(&format!("id=\"{id}\"")), "{id} missing");
        }
        assert_eq!(svg.matches("<g ").count(), svg.matches("</g>").count());
        assert_eq!(svg.matches("<polyline").count(), 3);
        let points = svg
            .lines()
            .find(|l| l.contains("series-replicas"))
            .and_then(|l| l.split("points=\"").nth(1))
            .unwrap();
        assert_eq!(points.split(' ').count(), 21);
    }

    #[test]
    fn axes_reach_a_round_top() {
        assert_eq!(
            Axis::covering(145.0),
            Axis {
                top: 150.0,
                step: 50.0
            }
        );
        assert_eq!(
            Axis::covering(50_000.0),
            Axis {
                top: 50_000.0,
                step: 10_000.0
            }
        );
        assert_eq!(
            Axis::covering(9_862.0),
            Axis {
                top: 10_000.0,
                step: 2_000.0
            }
        );
        assert!(Axis::covering(0.0).top > 0.0);
    }
}
