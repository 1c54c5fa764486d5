//! One integration-test binary (fast linking): every test runs the real `qtool` binary with a
//! temporary config dir and HOME, against the real embedded sandbox over loopback TLS.

mod support;

mod context;
mod generated;
mod jwt;
mod qem;
mod qrs;
mod reliability;
mod sandbox;
mod secrets;
