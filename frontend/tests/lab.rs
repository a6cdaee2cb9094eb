//! The transport lab's arithmetic, formatting and chart, in headless Chrome.

use std::collections::VecDeque;

use frontend::lab::explanation;
use frontend::lab::markup::{charts, table};
use frontend::lab::stats::{Figures, LaneStats, format_bytes, format_ms, format_rate, percentile};
use leptos::prelude::document;
use shared::LaneReport;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn numbers_are_written_for_people() {
    assert_eq!(format_bytes(312.4), "312 B");
    assert_eq!(format_bytes(1_540.0), "1.5 KB");
    assert_eq!(format_bytes(2_250_000.0), "2.25 MB");
    assert_eq!(format_ms(12.4), "12 ms");
    assert_eq!(format_ms(1_250.0), "1.25 s");
    assert_eq!(format_ms(1_500.0), "1.5 s");
    assert_eq!(format_ms(2_000.0), "2 s");
    assert_eq!(format_rate(7.46), "7.5 /min");
    assert_eq!(format_rate(60.2), "60 /min");
}

#[wasm_bindgen_test]
fn percentiles_use_the_nearest_rank() {
    let samples: VecDeque<f64> = (1..=20).map(f64::from).collect();
    assert_eq!(percentile(&samples, 0.5), Some(10.0));
    assert_eq!(percentile(&samples, 0.95), Some(19.0));
    assert_eq!(percentile(&samples, 1.0), Some(20.0));
    assert_eq!(percentile(&VecDeque::new(), 0.5), None);
}

#[wasm_bindgen_test]
fn a_lane_counts_new_ticks_once_and_divides_the_servers_bytes_by_them() {
    let mut lane = LaneStats::new(0.0);
    assert!(lane.tick(1_000, "a".into(), 1_010.0));
    assert!(!lane.tick(1_000, "a".into(), 1_500.0), "a repeated reading");
    assert!(lane.tick(2_000, "b".into(), 2_030.0));
    for _ in 0..3 {
        lane.message();
    }
    let wire = LaneReport {
        bytes_in: 400,
        bytes_out: 1_000,
        requests: 3,
    };

    let figures = lane.figures(wire, 60_000.0);

    assert_eq!(lane.updates, 2);
    assert_eq!(figures.bytes_out_per_update, Some(500.0));
    assert_eq!(figures.bytes_in_per_update, Some(200.0));
    assert_eq!(figures.messages_per_min, Some(3.0));
    assert_eq!(figures.requests_per_min, Some(3.0));
    assert_eq!(figures.latency_p50_ms, Some(10.0));
    assert_eq!(figures.latency_p95_ms, Some(30.0));
}

#[wasm_bindgen_test]
fn staleness_is_how_long_a_shown_tick_was_already_outdated() {
    let mut lane = LaneStats::new(0.0);
    lane.sample_staleness(500.0);
    assert_eq!(
        lane.figures(LaneReport::default(), 1.0).worst_staleness_ms,
        None
    );

    lane.tick(1_000, "a".into(), 1_005.0);
    lane.sample_staleness(1_900.0);
    lane.sample_staleness(4_200.0);

    let worst = lane
        .figures(LaneReport::default(), 5_000.0)
        .worst_staleness_ms;
    assert_eq!(
        worst,
        Some(2_200.0),
        "shown at 1 s, outdated from 2 s, seen at 4.2 s"
    );
}

fn complete(bytes_out: f64, p50: f64, stale: f64) -> Figures {
    Figures {
        bytes_out_per_update: Some(bytes_out),
        bytes_in_per_update: Some(bytes_out / 2.0),
        messages_per_min: Some(60.0),
        requests_per_min: Some(60.0),
        latency_p50_ms: Some(p50),
        latency_p95_ms: Some(p50 * 2.0),
        worst_staleness_ms: Some(stale),
    }
}

#[wasm_bindgen_test]
fn the_explanation_waits_for_every_lane_and_then_quotes_the_measured_figures() {
    let ws = complete(60.0, 3.0, 5.0);
    let sse = complete(90.0, 4.0, 6.0);
    let poll = complete(300.0, 480.0, 1_900.0);
    assert_eq!(explanation(&[ws, sse, Figures::default()], 1_000), None);

    let text = explanation(&[ws, sse, poll], 1_000).unwrap();

    assert!(text.contains("Polling cost 300 B down"), "{text}");
    assert!(text.contains("5.0×"), "{text}");
    assert!(text.contains("up to 1.9 s"), "{text}");
}

#[wasm_bindgen_test]
fn the_table_carries_each_raw_figure_and_writes_it_for_people() {
    let ws = complete(60.0, 3.0, 5.0);
    let html = table(&[ws, Figures::default(), ws]);

    assert!(
        html.contains(r#"<td data-lane="websocket" data-metric="bytes_out_per_update" data-value="60.000">60 B</td>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<td data-lane="sse" data-metric="latency_p50_ms">–</td>"#),
        "{html}"
    );
    assert_eq!(
        html.matches("<td ").count(),
        21,
        "seven metrics for three lanes"
    );
}

#[wasm_bindgen_test]
fn the_charts_scale_bars_to_the_largest_value_and_draw_none_for_a_missing_one() {
    let host = document().create_element("div").unwrap();
    let small = complete(50.0, 1.0, 1.0);
    let large = complete(200.0, 1.0, 1.0);
    host.set_inner_html(&charts(&[small, Figures::default(), large]));

    let bars = host.query_selector_all("figure:first-child rect").unwrap();
    let width = |i| {
        bars.item(i)
            .unwrap()
            .unchecked_into::<web_sys::Element>()
            .get_attribute("width")
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    assert_eq!(host.query_selector_all("svg").unwrap().length(), 7);
    assert_eq!(bars.length(), 3);
    assert_eq!(width(1), 0.0);
    assert!((width(2) / width(0) - 4.0).abs() < 1e-9);
    let text = host.text_content().unwrap();
    assert!(
        text.contains("50 B") && text.contains("200 B") && text.contains('–'),
        "{text}"
    );
}
