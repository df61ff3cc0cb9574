//! Allocations handed from one run to the next on the same thread. Exploration judges case
//! after case on each worker, and a shop case's trace bytes and read-back lines are tens of
//! MB: allocated fresh, they are fresh pages from the system (mapped, zeroed, faulted in and
//! unmapped) for every case (benches/README.md, "Check cases, session 34").

use std::cell::Cell;
use std::thread::LocalKey;

/// A thread's spare allocation: `Vec::new()` until one is handed back.
pub(crate) type Spare<T> = LocalKey<Cell<Vec<T>>>;

/// Hands `v`'s allocation back, emptied; of it and the one already kept, the larger stays
/// (most runs of one scenario then fit it).
pub(crate) fn give_back<T>(spare: &'static Spare<T>, mut v: Vec<T>) {
    v.clear();
    spare.with(|kept| {
        let old = kept.take();
        kept.set(if old.capacity() > v.capacity() { old } else { v });
    });
}
