//! The embedded FFmpeg pipeline: opening upstreams (`input`), the splice
//! (`remux`), the shared output ring (`ring`, `ts`), session health
//! (`health`), the failover policy (`session`, `standby`) and the session
//! registry (`manager`), and the `probe` diagnostics command.

pub mod health;
pub mod input;
pub mod manager;
pub mod probe;
pub mod remux;
pub mod ring;
pub mod session;
pub mod standby;
pub mod ts;
