//! The embedded FFmpeg pipeline: opening upstreams (`input`), one
//! candidate opened, mapped and read (`upstream`), the splice (`remux`),
//! the shared output ring (`ring`, `ts`), session health (`health`), the
//! failover policy (`session`, `standby`), the provider connection budget
//! (`budget`) and the session registry (`manager`). Imports run one way:
//! manager → session → standby → upstream → input/remux → ring → ts, and
//! input → budget and input → batch (read batching), both leaves. The `probe` command uses this pipeline from
//! outside (`crate::probe`).

pub mod batch;
pub mod budget;
pub mod health;
pub mod input;
pub mod manager;
pub mod reach;
pub mod remux;
pub mod ring;
pub mod sanitize;
pub mod session;
pub mod standby;
pub mod ts;
pub mod upstream;
pub mod watchdog;
