//! Work spread over the machine's cores: reading socket tables and fd tables
//! is one syscall-heavy task per namespace or process, with nothing shared.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// Applies `work` to every item on up to `threads` threads and returns the
/// results in input order. Each thread builds its own `state` once (a read
/// buffer, say), so the work allocates nothing per item.
pub fn map<T, S, R>(
    items: &[T],
    threads: usize,
    state: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R>
where
    T: Sync,
    R: Send,
{
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        let mut state = state();
        return items.iter().map(|item| work(&mut state, item)).collect();
    }
    let next = AtomicUsize::new(0);
    let mut indexed: Vec<(usize, R)> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut state = state();
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(index) else { break };
                        done.push((index, work(&mut state, item)));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| match worker.join() {
                Ok(done) => done,
                // A worker only panics on a bug; surface it where it happened.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    indexed.sort_unstable_by_key(|(index, _)| *index);
    indexed.into_iter().map(|(_, result)| result).collect()
}

/// How many threads to use: the cores this process may run on.
pub fn available_threads() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_input_order_across_threads() {
        let items: Vec<u64> = (0..1000).collect();
        let squares = map(
            &items,
            4,
            || 0u64,
            |calls, x| {
                *calls += 1;
                x * x
            },
        );
        assert_eq!(squares, items.iter().map(|x| x * x).collect::<Vec<_>>());
    }

    #[test]
    fn each_thread_reuses_its_state() {
        let items = vec![(); 100];
        let calls_seen = map(
            &items,
            3,
            || 0usize,
            |calls, _| {
                *calls += 1;
                *calls
            },
        );
        // Every thread's counter starts at 1, so the first calls of at most
        // three threads see 1, and the total is 100 calls.
        let firsts = calls_seen.iter().filter(|c| **c == 1).count();
        assert!((1..=3).contains(&firsts), "{firsts}");
    }

    #[test]
    fn empty_input() {
        let out: Vec<u8> = map(&[] as &[u8], 8, || (), |_, x| *x);
        assert!(out.is_empty());
    }
}
