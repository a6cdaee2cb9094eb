//! Integration tests: a real server on a random port with a fresh SQLite file, driven over HTTP and
//! WebSocket like any client would.

mod console;
mod contract;
mod helpers;
mod hostile;
mod lab;
mod live;
mod process;
mod rest;
mod sse;
mod static_files;
mod tasks;
mod ws;
