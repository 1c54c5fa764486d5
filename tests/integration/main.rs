//! One integration-test binary (fast linking): every test runs the real `qtool` binary with a
//! temporary config dir and HOME, against the real embedded sandbox over loopback TLS.

// Tests may print what they measured.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

mod app;
mod context;
mod engine;
mod generated;
mod hardening;
mod jwt;
mod ntlm;
mod ops;
mod pfx;
mod qem;
mod qem_clients;
mod qrs;
mod qrs_clients;
mod reliability;
mod repository;
mod sandbox;
mod sandbox_hardening;
mod secrets;
mod tls;
