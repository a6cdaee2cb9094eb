//! tasktick's browser client: a Leptos app rendered in the browser.
//!
//! Tasks travel over REST ([`api`]); the clock streams over a WebSocket ([`live`]), or a fallback.
//! The transport lab ([`lab`]) measures the three transports side by side. Components in
//! [`components`] take signals and callbacks rather than reaching for the network themselves, so the
//! browser tests can mount them with fakes.

pub mod actions;
pub mod api;
pub mod app;
pub mod board;
pub mod components;
pub mod filter;
pub mod lab;
pub mod live;
pub mod location;
mod pages;

pub use app::App;
