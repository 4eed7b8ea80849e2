//! The process's open-file limit. Every TV holds a connection (its push stream), and the
//! usual soft limit of 1,024 would stop a server long before its memory does, so start-up
//! raises it to the hard limit (`rlimit`), and the default connection cap stays below it,
//! keeping descriptors for the provider, Redis and files.

use rlimit::Resource;

/// Descriptors kept for everything that is not a client connection.
pub const RESERVED: u64 = 256;
/// The connection cap when `MAX_CONNECTIONS` is not set and the open-file limit allows it.
pub const DEFAULT_MAX_CONNECTIONS: usize = 20_000;

/// Raises the soft open-file limit to the hard limit; returns the limit now in force.
pub fn raise() -> Option<u64> {
    let before = current();
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => {
            if before.is_some_and(|b| b < now) {
                tracing::info!(
                    from = before,
                    to = now,
                    "raised the open-file limit to its hard limit"
                );
            }
            Some(now)
        }
        Err(error) => {
            tracing::warn!(%error, limit = before, "cannot raise the open-file limit");
            before
        }
    }
}

/// The soft open-file limit now.
pub fn current() -> Option<u64> {
    Resource::NOFILE.get().ok().map(|(soft, _hard)| soft)
}

/// How many connections to allow: `MAX_CONNECTIONS`, else the default or the open-file
/// limit less [`RESERVED`], whichever is lower. A setting above what the limit allows is
/// kept, with a warning: accepting then fails for want of descriptors, and the listener
/// pauses instead of answering 503.
pub fn connection_limit(setting: Option<usize>, open_files: Option<u64>) -> usize {
    let allowed = open_files.map(|limit| {
        usize::try_from(limit.saturating_sub(RESERVED))
            .unwrap_or(usize::MAX)
            .max(1)
    });
    match setting {
        Some(max) => {
            if let Some(allowed) = allowed.filter(|allowed| max > *allowed) {
                tracing::warn!(
                    max,
                    allowed,
                    "MAX_CONNECTIONS is more than the open-file limit allows"
                );
            }
            max
        }
        None => allowed.map_or(DEFAULT_MAX_CONNECTIONS, |a| a.min(DEFAULT_MAX_CONNECTIONS)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_stays_below_the_open_file_limit() {
        assert_eq!(connection_limit(None, None), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(
            connection_limit(None, Some(1_048_576)),
            DEFAULT_MAX_CONNECTIONS
        );
        assert_eq!(connection_limit(None, Some(1024)), 768);
        assert_eq!(connection_limit(None, Some(100)), 1);
        assert_eq!(connection_limit(Some(50), Some(1024)), 50);
        assert_eq!(
            connection_limit(Some(5000), Some(1024)),
            5000,
            "the setting wins"
        );
    }
}
