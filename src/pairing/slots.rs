//! The per-server cap on pairings in progress (`MAX_PAIRINGS`): every pairing this server
//! runs (a code being fetched, shown or polled for) holds a [`PairingSlot`], and a new one is
//! refused while all slots are taken. The cap bounds how many device codes one server polls
//! the provider with under the organisation's client id, whatever addresses ask.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The slots of one server. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PairingSlots {
    inner: Arc<Slots>,
}

#[derive(Debug)]
struct Slots {
    max: usize,
    taken: AtomicUsize,
}

/// One pairing in progress; its slot is free again when this is dropped.
#[derive(Debug)]
pub struct PairingSlot {
    slots: Arc<Slots>,
}

impl Drop for PairingSlot {
    fn drop(&mut self) {
        self.slots.taken.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PairingSlots {
    pub fn new(max: usize) -> Self {
        Self {
            inner: Arc::new(Slots {
                max,
                taken: AtomicUsize::new(0),
            }),
        }
    }

    /// A slot for a new pairing, if one is free.
    pub fn try_take(&self) -> Option<PairingSlot> {
        let max = self.inner.max;
        self.inner
            .taken
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| self.slot())
    }

    /// A slot even when none is free: for a pairing that already runs (adopted from a
    /// replica that stopped, or a New code that replaces one), which must not be dropped.
    pub fn take_anyway(&self) -> PairingSlot {
        self.inner.taken.fetch_add(1, Ordering::SeqCst);
        self.slot()
    }

    fn slot(&self) -> PairingSlot {
        PairingSlot {
            slots: Arc::clone(&self.inner),
        }
    }

    /// Slots taken now.
    pub fn taken(&self) -> usize {
        self.inner.taken.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_and_come_back() {
        let slots = PairingSlots::new(2);
        let a = slots.try_take().expect("first");
        let b = slots.try_take().expect("second");
        assert!(slots.try_take().is_none(), "full");
        assert_eq!(slots.taken(), 2);
        drop(a);
        let c = slots.try_take().expect("a freed slot");
        let over = slots.take_anyway();
        assert_eq!(slots.taken(), 3, "a running pairing is never refused");
        drop((b, c, over));
        assert_eq!(slots.taken(), 0);
    }
}
