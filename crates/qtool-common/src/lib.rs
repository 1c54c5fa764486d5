//! Plumbing that both the qtool CLI and the sandbox emulator need, and nothing else: files written
//! atomically with the right permissions under an advisory lock ([`fs`]), human durations
//! ([`duration`]) and byte counts ([`bytes`]). It knows no Qlik protocol; protocol facts live on
//! each side separately, so the emulator (the test oracle) never shares a mistake with the client
//! it checks.

#![forbid(unsafe_code)]

pub mod bytes;
pub mod duration;
pub mod fs;
