//! tasktick's server and console clients.
//!
//! `startup` assembles the application: [`startup::app`] builds the router from an [`AppState`],
//! [`startup::Application`] binds it to an address. REST resources live in `routes`, the WebSocket in
//! `ws`, persistence behind the `store::TaskStore` trait. Changes go through `writes` (group commit);
//! `follower` reads the event log back and publishes it to live connections through `events`. `client` holds the console clients. `wire` counts
//! bytes per connection for the transport lab (`lab`).

pub mod access;
pub mod access_cache;
pub mod auth;
pub mod cli;
pub mod client;
pub mod conditional;
pub mod config;
pub mod error;
pub mod events;
pub mod extract;
pub mod follower;
pub mod janitor;
pub mod lab;
pub mod limits;
pub mod live;
pub mod maintenance;
pub mod monitoring;
pub mod operator;
pub mod origin;
pub mod pages;
pub mod routes;
pub mod security;
pub mod serve;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod wire;
pub mod write_limit;
pub mod writes;
pub mod ws;

pub use error::AppError;
pub use state::AppState;
