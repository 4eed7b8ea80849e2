//! The per-address cap on open push streams (`MAX_PUSH_STREAMS_PER_ADDRESS`): each open
//! `/events` stream holds a [`StreamSlot`] for its client address (IPv6 by /64), and a
//! stream over the cap is refused, so one address cannot hold the connections every TV
//! needs. Only addresses with open streams are remembered.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use super::address_key;

/// Open streams by address. Cheap to clone.
#[derive(Clone, Debug)]
pub struct StreamLimiter {
    inner: Arc<Streams>,
}

#[derive(Debug)]
struct Streams {
    per_address: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl Streams {
    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Each change under this lock is one counter; recover the guard after a panic.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One open stream; its place is free again when this is dropped.
#[derive(Debug)]
pub struct StreamSlot {
    streams: Arc<Streams>,
    key: IpAddr,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.streams.open();
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

impl StreamLimiter {
    pub fn new(per_address: usize) -> Self {
        Self {
            inner: Arc::new(Streams {
                per_address,
                open: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A place for one more stream from `address`, unless it has as many open as allowed.
    pub fn try_open(&self, address: IpAddr) -> Option<StreamSlot> {
        let key = address_key(address);
        let mut open = self.inner.open();
        let count = open.entry(key).or_insert(0);
        if *count >= self.inner.per_address {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            streams: Arc::clone(&self.inner),
            key,
        })
    }

    /// Addresses with open streams.
    pub fn addresses(&self) -> usize {
        self.inner.open().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_capped_per_address_and_forgotten_when_closed() {
        let limiter = StreamLimiter::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let first = limiter.try_open(a).unwrap();
        let second = limiter.try_open(a).unwrap();
        assert!(limiter.try_open(a).is_none(), "a third from one address");
        let other = limiter.try_open(b).unwrap();
        let same_64 = limiter.try_open("2001:db8::ffff".parse().unwrap()).unwrap();
        assert!(
            limiter.try_open("2001:db8::2".parse().unwrap()).is_none(),
            "one /64 counts as one address"
        );
        drop(first);
        let again = limiter.try_open(a).unwrap();
        drop((second, again, other, same_64));
        assert_eq!(limiter.addresses(), 0, "nothing kept for closed streams");
    }
}
