//! Connection slots: at most `max_clients` connections are served at once.
//! A connection over the limit waits (a bounded queue, a bounded time) for a
//! slot; when every slot is held, the connection that has waited longest on
//! its client (silent, half a request, not reading its answer) is closed to
//! make room, as a web server drops idle keep-alive connections when it runs
//! out: after `FIRST_REQUEST_WITHIN` for a connection that has not sent a
//! whole request yet (`autosa status` sends its request as it connects),
//! after `EVICT_AFTER` otherwise. So clients that hold connections
//! without using them cannot lock the others out; clients that really are
//! busy past the limit get a clear refusal instead of an unbounded wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A connection that has waited this long on its client may be closed for
/// one that waits for a slot.
pub const EVICT_AFTER: Duration = Duration::from_secs(1);
/// The same for a connection that has not sent a whole request yet.
pub const FIRST_REQUEST_WITHIN: Duration = Duration::from_millis(250);
/// How long a connection over the limit waits for a slot.
pub const QUEUE_WAIT: Duration = Duration::from_secs(2);
/// How often a waiting connection looks again (a slot holder may have become
/// evictable without freeing its slot).
const RECHECK: Duration = Duration::from_millis(50);

/// Why a connection gets no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot busy and the queue full.
    QueueFull { max: usize, waiting: usize },
    /// Every slot stayed busy for `QUEUE_WAIT`.
    NoSlotInTime { max: usize },
}

impl Refusal {
    /// What the client is told.
    pub fn message(&self) -> String {
        match self {
            Refusal::QueueFull { max, waiting } => format!(
                "too many clients: all {max} connections ([control] max_clients) are busy and \
                 {waiting} more are waiting; try again shortly, or raise [control] max_clients"
            ),
            Refusal::NoSlotInTime { max } => format!(
                "too many clients: none of the {max} connections ([control] max_clients) came \
                 free within {} s; try again shortly, or raise [control] max_clients",
                QUEUE_WAIT.as_secs()
            ),
        }
    }
}

#[derive(Debug)]
struct Conn {
    /// Since when the server waits on the client (for a request, or for it
    /// to take an answer); `None` while the daemon works on a request.
    on_client_since: Option<Instant>,
    /// Has sent a whole request.
    asked: bool,
    evict: CancellationToken,
}

impl Conn {
    /// Since when it may be closed for a waiting connection.
    fn evictable_since(&self) -> Option<Instant> {
        let grace = if self.asked {
            EVICT_AFTER
        } else {
            FIRST_REQUEST_WITHIN
        };
        Some(self.on_client_since? + grace)
    }
}

/// The slots' bookkeeping, without locks or clocks (tested on its own).
#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    conns: HashMap<u64, Conn>,
    waiting: usize,
}

impl Table {
    /// A slot for a new connection, closing the longest-waiting evictable
    /// one when all are taken: `(id, evict token, evicted?)`.
    fn admit(&mut self, max: usize, now: Instant) -> Option<(u64, CancellationToken, bool)> {
        let mut evicted = false;
        if self.conns.len() >= max {
            let victim = self
                .conns
                .iter()
                .filter_map(|(id, c)| Some((*id, c.evictable_since()?)))
                .filter(|(_, since)| *since <= now)
                .min_by_key(|(_, since)| *since)?
                .0;
            if let Some(c) = self.conns.remove(&victim) {
                c.evict.cancel();
            }
            evicted = true;
        }
        let id = self.next_id;
        self.next_id += 1;
        let evict = CancellationToken::new();
        self.conns.insert(
            id,
            Conn {
                on_client_since: Some(now),
                asked: false,
                evict: evict.clone(),
            },
        );
        Some((id, evict, evicted))
    }
}

pub struct Slots {
    max: usize,
    max_waiting: usize,
    table: Mutex<Table>,
    freed: Notify,
}

/// A held slot; freed on drop.
pub struct Slot {
    id: u64,
    slots: Arc<Slots>,
    /// Cancelled when the slot was taken for a waiting connection.
    pub evicted: CancellationToken,
    /// Whether getting this slot closed another connection.
    pub took_from_idle: bool,
}

impl Slots {
    /// Connections waiting for a slot at most, beside `max` served.
    pub fn max_waiting(max: usize) -> usize {
        (8 * max).min(512)
    }

    /// `max` served at once, up to `max_waiting(max)` more waiting.
    pub fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            max,
            max_waiting: Slots::max_waiting(max),
            table: Mutex::new(Table::default()),
            freed: Notify::new(),
        })
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // The table holds no invariant a panic could break halfway.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot, at once or after waiting up to `QUEUE_WAIT`.
    pub async fn acquire(self: &Arc<Self>) -> Result<Slot, Refusal> {
        let deadline = Instant::now() + QUEUE_WAIT;
        let mut queued: Option<Queued<'_>> = None;
        loop {
            {
                let mut t = self.table();
                if let Some((id, evicted, took)) = t.admit(self.max, Instant::now()) {
                    drop(t);
                    drop(queued);
                    return Ok(Slot {
                        id,
                        slots: self.clone(),
                        evicted,
                        took_from_idle: took,
                    });
                }
                if queued.is_none() {
                    if t.waiting >= self.max_waiting {
                        return Err(Refusal::QueueFull {
                            max: self.max,
                            waiting: t.waiting,
                        });
                    }
                    t.waiting += 1;
                    queued = Some(Queued(self));
                }
            }
            if Instant::now() >= deadline {
                return Err(Refusal::NoSlotInTime { max: self.max });
            }
            let _ = tokio::time::timeout(RECHECK, self.freed.notified()).await;
        }
    }
}

/// Counts a connection in the queue while it waits (also when its task is
/// dropped at shutdown).
struct Queued<'a>(&'a Slots);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.table().waiting -= 1;
    }
}

impl Slot {
    /// The server now waits on the client (for a request or to take an answer).
    pub fn waiting_on_client(&self) {
        if let Some(c) = self.slots.table().conns.get_mut(&self.id) {
            c.on_client_since = Some(Instant::now());
        }
    }

    /// The daemon works on this client's request: not evictable. `false`
    /// when the slot was already taken for another connection: then the
    /// request must not be carried out (nobody would get its answer).
    pub fn working(&self) -> bool {
        match self.slots.table().conns.get_mut(&self.id) {
            Some(c) => {
                c.on_client_since = None;
                c.asked = true;
                true
            }
            None => false,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let freed = self.slots.table().conns.remove(&self.id).is_some();
        if freed {
            self.slots.freed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_table_evicts_the_longest_idle_only_past_the_grace() {
        let t0 = Instant::now();
        let mut t = Table::default();
        let (a, ea, _) = t.admit(2, t0).unwrap();
        let (b, eb, _) = t.admit(2, t0 + Duration::from_millis(300)).unwrap();
        // Both have asked something before: the longer grace.
        t.conns.values_mut().for_each(|c| c.asked = true);
        // Both idle for less than EVICT_AFTER: no room.
        assert!(t.admit(2, t0 + Duration::from_millis(900)).is_none());
        // `a` works on a request: never evicted, however long.
        t.conns.get_mut(&a).unwrap().on_client_since = None;
        assert!(t.admit(2, t0 + Duration::from_secs(1)).is_none());
        // `b` has waited on its client past the grace: it goes.
        let (c, _, evicted) = t.admit(2, t0 + Duration::from_millis(1300)).unwrap();
        assert!(evicted && eb.is_cancelled() && !ea.is_cancelled());
        assert_eq!(t.conns.len(), 2);
        assert!(t.conns.contains_key(&a) && t.conns.contains_key(&c));
        assert!(!t.conns.contains_key(&b));
    }

    #[test]
    fn a_connection_that_never_asked_goes_sooner() {
        let t0 = Instant::now();
        let mut t = Table::default();
        let (old, e_old, _) = t.admit(2, t0).unwrap();
        t.conns.get_mut(&old).unwrap().asked = true;
        let (_, e_new, _) = t.admit(2, t0 + Duration::from_millis(100)).unwrap();
        // Neither is past its grace yet.
        assert!(t.admit(2, t0 + Duration::from_millis(300)).is_none());
        // The silent newcomer (100 + 250 ms) goes before the older one
        // that asked before (0 + 1000 ms).
        let (_, _, evicted) = t.admit(2, t0 + Duration::from_millis(400)).unwrap();
        assert!(evicted && e_new.is_cancelled() && !e_old.is_cancelled());
    }

    #[test]
    fn the_oldest_idle_goes_first_and_free_slots_evict_nobody() {
        let t0 = Instant::now();
        let mut t = Table::default();
        let (_, e1, _) = t.admit(3, t0 + Duration::from_millis(500)).unwrap();
        let (_, e2, _) = t.admit(3, t0).unwrap();
        let (_, e3, evicted) = t.admit(3, t0).unwrap();
        assert!(!evicted);
        let (_, _, evicted) = t.admit(3, t0 + Duration::from_secs(5)).unwrap();
        assert!(evicted);
        // e2 and e3 have the same age; one of them went, not e1.
        assert!(!e1.is_cancelled());
        assert!(e2.is_cancelled() ^ e3.is_cancelled());
    }

    #[tokio::test]
    async fn over_the_limit_waits_then_gets_a_freed_slot_or_a_clear_refusal() {
        let slots = Slots::new(1);
        let held = slots.acquire().await.unwrap();
        assert!(held.working());
        // Freed while the second waits: it gets the slot.
        let s = slots.clone();
        let waiter = tokio::spawn(async move { s.acquire().await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(held);
        assert_eq!(waiter.await.unwrap(), Ok(()));
        // Held and busy the whole time: refused after QUEUE_WAIT.
        let held = slots.acquire().await.unwrap();
        assert!(held.working());
        let err = slots.acquire().await.err().unwrap();
        assert_eq!(err, Refusal::NoSlotInTime { max: 1 });
        assert!(err.message().starts_with("too many clients: "), "{err:?}");
        assert_eq!(slots.table().waiting, 0);
    }

    #[tokio::test]
    async fn an_evicted_connection_may_not_start_work() {
        let slots = Slots::new(1);
        let idle = slots.acquire().await.unwrap();
        tokio::time::sleep(FIRST_REQUEST_WITHIN + Duration::from_millis(50)).await;
        let taker = slots.acquire().await.unwrap();
        assert!(taker.took_from_idle && idle.evicted.is_cancelled());
        assert!(!idle.working(), "an evicted connection went on working");
        // Its drop does not free the slot the taker holds.
        drop(idle);
        assert_eq!(slots.table().conns.len(), 1);
        assert!(taker.working());
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once() {
        let slots = Slots::new(1);
        let held = slots.acquire().await.unwrap();
        assert!(held.working());
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let s = slots.clone();
                tokio::spawn(async move { s.acquire().await.map(|_| ()) })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(slots.table().waiting, 8);
        let started = Instant::now();
        let err = slots.acquire().await.err().unwrap();
        assert_eq!(err, Refusal::QueueFull { max: 1, waiting: 8 });
        assert!(started.elapsed() < QUEUE_WAIT);
        for w in waiters {
            w.abort();
        }
    }
}
