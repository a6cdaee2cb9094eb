//! The lab's figures as markup: the table and one small SVG bar chart per metric.
//!
//! Written as one HTML string rather than as Leptos views: the table and the charts are many
//! elements that change together four times a second, and typed views for them cost more WASM
//! than the whole rest of the lab. Everything interpolated is a number or a fixed label.

use std::fmt::Write;

use shared::Transport;

use super::Metric;
use super::stats::{Figures, fixed};

/// Chart geometry, in SVG units: where the bars start (after the lane names) and how long the
/// longest one is.
const BARS_FROM: f64 = 72.0;
const BAR_ROOM: f64 = 170.0;
const ROW: f64 = 26.0;

/// The lane's name in CSS classes and `data-lane` attributes.
pub fn css_name(transport: Transport) -> &'static str {
    match transport {
        Transport::WebSocket => "websocket",
        Transport::Sse => "sse",
        Transport::Polling => "polling",
    }
}

fn short_name(transport: Transport) -> &'static str {
    match transport {
        Transport::WebSocket => "WebSocket",
        Transport::Sse => "SSE",
        Transport::Polling => "Polling",
    }
}

/// The table of every metric for the three lanes (in [`Transport::ALL`] order): each cell carries
/// `data-lane`, `data-metric` and, once known, `data-value` (the raw number).
pub fn table(figures: &[Figures; 3]) -> String {
    let mut html = String::from(
        "<table class=\"lab-table\"><caption>Measured since the run started</caption>\
         <thead><tr><th scope=\"col\">Metric</th>",
    );
    for transport in Transport::ALL {
        let _ = write!(html, "<th scope=\"col\">{}</th>", transport.label());
    }
    html.push_str("</tr></thead><tbody>");
    for metric in Metric::ALL {
        let _ = write!(html, "<tr><th scope=\"row\">{}</th>", metric.label());
        for (transport, lane) in Transport::ALL.into_iter().zip(figures) {
            let value = metric.pick(lane);
            let _ = write!(
                html,
                "<td data-lane=\"{}\" data-metric=\"{}\"",
                css_name(transport),
                metric.key()
            );
            match value {
                Some(v) => {
                    let _ = write!(
                        html,
                        " data-value=\"{}\">{}</td>",
                        fixed(v, 3),
                        metric.format()(v)
                    );
                }
                None => html.push_str(">–</td>"),
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    html
}

/// One chart per metric: a bar per lane, scaled to the largest; a missing value draws no bar.
pub fn charts(figures: &[Figures; 3]) -> String {
    let mut html = String::new();
    for metric in Metric::ALL {
        let values = [0, 1, 2].map(|lane| metric.pick(&figures[lane]));
        let largest = values.iter().flatten().copied().fold(0.0, f64::max);
        let _ = write!(
            html,
            "<figure class=\"lab-chart\"><figcaption>{label}</figcaption>\
             <svg class=\"chart\" viewBox=\"0 0 320 {height}\" role=\"img\" aria-label=\"{label}\">",
            label = metric.label(),
            height = fixed(ROW * 3.0 + 4.0, 0),
        );
        for (row, (transport, value)) in Transport::ALL.into_iter().zip(values).enumerate() {
            let y = 2.0 + row as f64 * ROW;
            let width = match value {
                Some(v) if largest > 0.0 => (v / largest * BAR_ROOM).max(1.0),
                _ => 0.0,
            };
            let text = value.map_or_else(|| "–".to_owned(), metric.format());
            let _ = write!(
                html,
                "<text x=\"0\" y=\"{text_y}\" class=\"chart-label\">{name}</text>\
                 <rect x=\"{bars_from}\" y=\"{y}\" width=\"{width}\" height=\"{bar}\" rx=\"3\" \
                 class=\"chart-bar chart-{lane}\"></rect>\
                 <text x=\"{value_x}\" y=\"{text_y}\" class=\"chart-value\">{text}</text>",
                bars_from = fixed(BARS_FROM, 0),
                text_y = fixed(y + 15.0, 0),
                name = short_name(transport),
                y = fixed(y, 0),
                width = fixed(width, 2),
                bar = fixed(ROW - 6.0, 0),
                lane = css_name(transport),
                value_x = fixed(BARS_FROM + width + 6.0, 2),
            );
        }
        html.push_str("</svg></figure>");
    }
    html
}
