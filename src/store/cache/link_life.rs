//! The life every invalidation link leads, whatever it connects to: started lazily by the
//! first cached read (in that read's runtime), one session after another with backoff, the
//! caches emptied and bypassed between sessions, and stopped when the store is dropped.
//! A link only says how one session runs ([`Link::session`]).

use super::coherence::Coherence;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Why a session ended.
pub type Ended = String;

pub type Session<'a> = Pin<Box<dyn Future<Output = Ended> + Send + 'a>>;

pub trait Link: Send + Sync + 'static {
    fn life(&self) -> &LinkLife;
    fn coherence(&self) -> &Coherence;
    /// One connection's (or one set of connections') life: it calls [`Coherence::link_up`]
    /// once every connection tracks, and returns only when something failed.
    fn session(&self) -> Session<'_>;
    /// Runs after the coherence was told the link is down, before the next session.
    fn on_down(&self) {}
}

#[derive(Default)]
pub struct LinkLife {
    running: AtomicBool,
    stopped: AtomicBool,
    /// Wakes the session to end it (a failed read on the link, or the store dropped).
    pub interrupt: Notify,
}

/// Starts `link` in the current runtime unless it runs, was stopped, or no runtime is current.
pub fn ensure_running<L: Link>(link: &Arc<L>) {
    let life = link.life();
    if life.stopped.load(SeqCst) || life.running.swap(true, SeqCst) {
        return;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        life.running.store(false, SeqCst);
        return;
    };
    let me = link.clone();
    rt.spawn(async move {
        // Dropped with its runtime too: then the link is down until a read restarts it.
        let _running = Running(me.clone());
        drive(&*me).await;
    });
}

/// Ends the link for good (the store is being dropped).
pub fn stop(link: &dyn Link) {
    link.life().stopped.store(true, SeqCst);
    link.life().interrupt.notify_one();
}

async fn drive(link: &dyn Link) {
    let life = link.life();
    let coherence = link.coherence();
    let mut backoff = Duration::from_millis(50);
    let mut failures = 0u64;
    while !life.stopped.load(SeqCst) {
        let began = Instant::now();
        let value = coherence.link_value();
        let why = link.session().await;
        let was_up = coherence.link_value() != value;
        coherence.link_down();
        link.on_down();
        if life.stopped.load(SeqCst) {
            return;
        }
        // Once per outage at warn: a Redis without CLIENT TRACKING would repeat it forever.
        failures = if was_up { 0 } else { failures + 1 };
        if failures <= 1 {
            log::warn!("store cache: invalidation link down ({why}); reads go to Redis until it is back");
        } else {
            log::debug!("store cache: invalidation link still down ({why})");
        }
        if began.elapsed() > Duration::from_secs(5) {
            backoff = Duration::from_millis(50);
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = life.interrupt.notified() => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Marks the link stopped when its task ends, however it ends.
struct Running<L: Link>(Arc<L>);

impl<L: Link> Drop for Running<L> {
    fn drop(&mut self) {
        self.0.coherence().link_down();
        self.0.on_down();
        self.0.life().running.store(false, SeqCst);
    }
}
