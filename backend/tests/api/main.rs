//! Integration tests: a real server on a random port with a fresh SQLite file (or, with
//! `TASKTICK_TEST_STORE=postgres`, a fresh PostgreSQL database), driven over HTTP and WebSocket like
//! any client would. `store` checks both stores against the `TaskStore` contract.

mod accounts;
mod boards;
mod cluster;
mod config_file;
mod console;
mod contract;
mod contract_requests;
mod helpers;
mod hostile;
mod lab;
mod live;
mod maintenance;
mod metrics;
mod operator;
mod postgres;
mod process;
mod rest;
mod revocation;
mod server_process;
mod slow_clients;
mod sse;
mod static_files;
#[macro_use]
mod store;
mod store_accounts;
mod tasks;
mod ws;
