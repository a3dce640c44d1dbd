//! The local AWS: moto in server mode, installed on first use and started on a free loopback port,
//! and the demo scenario that runs the whole guard on it (shared by the demo, the tests and the
//! benches).

pub mod demo;
pub mod emulator;
