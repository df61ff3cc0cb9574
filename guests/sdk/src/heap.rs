//! The guest's heap: power-of-two blocks, each aligned to its own size, carved upwards from
//! `__heap_base` and recycled through one free list per size. A segregated-fit allocator in
//! the manner of Linux's SLOB/buddy size classes, kept this small because a guest instance
//! lives for one request or a pool's lifetime.
//!
//! Why not `dlmalloc` (what std uses on wasm32): its first allocation always asks the system
//! for a fresh 64 KiB segment, so every instance grew its memory by a page before its first
//! request, although the initial memory had tens of KiB free above `__heap_base`; and growing
//! made wasmi double its backing buffer (benches/README.md, "Where the time goes", change 3).
//! This heap starts in that slack and grows memory only when a block does not fit. It is also
//! cheaper per call (a free-list pop or a bump), which is fuel, i.e. simulated CPU time.
//!
//! * A request of `size` bytes with alignment `align` gets a block of the next power of two
//!   ≥ `max(size, align, MIN_BLOCK)`. Blocks are aligned to their size, so any alignment up to
//!   the block size holds.
//! * Freed blocks go to their size's list and are reused first; a block never changes size.
//!   Memory is bounded by the peak of live blocks per size, not by the number of requests.
//! * Fresh blocks are carved at the bump pointer, first rounded up to the block's alignment;
//!   the skipped gap is cut into naturally aligned smaller blocks that go to their lists, so no
//!   byte is lost to alignment.
//! * `realloc` within the same block size keeps the block (no copy).
//!
//! The logic is generic over [`Memory`], so the tests below run it natively on a buffer.

use core::alloc::Layout;

/// The WebAssembly page size.
pub(crate) const PAGE: usize = 64 * 1024;

/// The smallest block: room for the free list's link, aligned for any 8-byte value.
const MIN_BLOCK: usize = 8;

/// One free list per power of two (index = log2 of the block size).
const CLASSES: usize = usize::BITS as usize;

/// The linear memory the heap carves from: its current end, and growth by whole pages.
pub(crate) trait Memory {
    /// Grows the memory by `pages` pages; its new end address, or `None` if it cannot grow.
    fn grow(&mut self, pages: usize) -> Option<usize>;
}

/// The allocator's state: the bump pointer, the memory's end, the free lists' heads (0: empty).
#[derive(Debug)]
pub(crate) struct Heap<M> {
    next: usize,
    end: usize,
    free: [usize; CLASSES],
    memory: M,
}

/// The size class of a layout: log2 of its block size; `None` if no block can hold it.
fn class(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(MIN_BLOCK);
    // A block too large for the address space fails later, in `carve`'s checked arithmetic.
    Some(size.checked_next_power_of_two()?.trailing_zeros() as usize)
}

impl<M: Memory> Heap<M> {
    /// A heap over `[start, end)` (`start` is rounded up to `MIN_BLOCK`), growing `memory`
    /// past `end` when needed.
    pub(crate) const fn new(start: usize, end: usize, memory: M) -> Self {
        let next = start.next_multiple_of(MIN_BLOCK);
        Self { next, end, free: [0; CLASSES], memory }
    }

    /// A block for `layout`, or null if memory cannot grow enough.
    #[inline]
    pub(crate) fn alloc(&mut self, layout: Layout) -> *mut u8 {
        let Some(k) = class(layout) else { return core::ptr::null_mut() };
        let head = self.free[k];
        if head != 0 {
            // SAFETY: `head` is a free block of at least MIN_BLOCK bytes, aligned to its size,
            // inside memory we own; its first word holds the next free block (written by
            // `push`).
            self.free[k] = unsafe { (head as *const usize).read() };
            return head as *mut u8;
        }
        self.carve(k) as *mut u8
    }

    /// Returns the block at `ptr`, allocated by [`Self::alloc`] with `layout`, to its list.
    ///
    /// # Safety
    /// `ptr` must come from this heap's `alloc`/`realloc` with `layout`, and not be used again.
    #[inline]
    pub(crate) unsafe fn dealloc(&mut self, ptr: *mut u8, layout: Layout) {
        if let Some(k) = class(layout) {
            // SAFETY: the caller's contract: the block is ours again, big and aligned enough
            // for the link.
            unsafe { self.push(k, ptr as usize) };
        }
    }

    /// Resizes the block at `ptr` (allocated with `layout`) to `new_size` bytes: in place when
    /// the block size stays the same, otherwise moved (the old block freed). Null on failure,
    /// the old block then untouched.
    ///
    /// # Safety
    /// As [`Self::dealloc`]; `new_size` must not overflow `isize` when rounded to `layout.align()`.
    pub(crate) unsafe fn realloc(
        &mut self,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
    ) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return core::ptr::null_mut();
        };
        if class(layout).is_some() && class(layout) == class(new_layout) {
            return ptr;
        }
        let new = self.alloc(new_layout);
        if !new.is_null() {
            // SAFETY: both blocks are live, distinct (the old one is not free) and at least
            // this long.
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }

    /// # Safety
    /// `addr` is a block of class `k` that nothing else uses.
    unsafe fn push(&mut self, k: usize, addr: usize) {
        // SAFETY: the caller's contract; blocks are at least MIN_BLOCK bytes and aligned to
        // their size, so the link fits and is aligned.
        unsafe { (addr as *mut usize).write(self.free[k]) };
        self.free[k] = addr;
    }

    /// [`Self::try_carve`]'s block, 0 (null) if memory cannot grow. Out of line: most
    /// allocations pop a free list, and a function's code outside loops is charged in fuel on
    /// every entry, taken or not; one number, as an `Option<usize>` would come back through
    /// memory (a stack frame in the caller at every allocation).
    #[inline(never)]
    fn carve(&mut self, k: usize) -> usize {
        self.try_carve(k).unwrap_or(0)
    }

    /// A fresh block of class `k` at the bump pointer, growing memory if it does not fit.
    #[inline(always)]
    fn try_carve(&mut self, k: usize) -> Option<usize> {
        let block = 1usize << k;
        let start = self.next.checked_next_multiple_of(block)?;
        let top = start.checked_add(block)?;
        if top > self.end {
            let pages = (top - self.end).div_ceil(PAGE);
            self.end = self.memory.grow(pages)?;
            if top > self.end {
                return None;
            }
        }
        // The gap below `start`: naturally aligned pieces, each the lowest set bit of the
        // address (so each is aligned to its size), all smaller than `block`.
        while self.next < start {
            let piece = self.next & self.next.wrapping_neg();
            // SAFETY: `[next, next + piece)` lies below `start`, inside memory we own and never
            // handed out; `piece` ≥ MIN_BLOCK as `next` stays a multiple of MIN_BLOCK.
            unsafe { self.push(piece.trailing_zeros() as usize, self.next) };
            self.next += piece;
        }
        self.next = top;
        Some(start)
    }
}

/// The global allocator on wasm32: one [`Heap`] over the module's own linear memory.
#[cfg(target_arch = "wasm32")]
pub(crate) mod wasm {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;

    use super::{Heap, Memory, PAGE};

    unsafe extern "C" {
        /// Set by the linker: the first address above the shadow stack and static data.
        static __heap_base: u8;
    }

    /// Memory 0 of this module, grown with `memory.grow`.
    #[derive(Debug)]
    pub(crate) struct LinearMemory;

    impl Memory for LinearMemory {
        fn grow(&mut self, pages: usize) -> Option<usize> {
            let previous = core::arch::wasm32::memory_grow(0, pages);
            if previous == usize::MAX {
                return None;
            }
            (previous + pages).checked_mul(PAGE)
        }
    }

    /// The heap, set up at the first allocation (`__heap_base` is a link-time address, the
    /// initial memory size a run-time one).
    pub(crate) struct GuestHeap(UnsafeCell<Option<Heap<LinearMemory>>>);

    // SAFETY: wasm32-unknown-unknown without the atomics feature has a single thread.
    unsafe impl Sync for GuestHeap {}

    impl GuestHeap {
        pub(crate) const fn new() -> Self {
            Self(UnsafeCell::new(None))
        }

        /// # Safety
        /// Single-threaded, and no other reference to the heap may be live (the allocator is
        /// not re-entered: `Heap` does not allocate).
        #[allow(clippy::mut_from_ref)]
        unsafe fn heap(&self) -> &mut Heap<LinearMemory> {
            // SAFETY: the caller's contract.
            let slot = unsafe { &mut *self.0.get() };
            match slot {
                Some(heap) => heap,
                None => set_up(slot),
            }
        }
    }

    /// The heap at the first allocation, out of line (paid once, not on every entry).
    #[cold]
    #[inline(never)]
    fn set_up(slot: &mut Option<Heap<LinearMemory>>) -> &mut Heap<LinearMemory> {
        let start = (&raw const __heap_base) as usize;
        let end = core::arch::wasm32::memory_size(0) * PAGE;
        slot.insert(Heap::new(start, end, LinearMemory))
    }

    // SAFETY: `Heap` hands out disjoint blocks of at least the layout's size, aligned to at
    // least its alignment (blocks are aligned to their power-of-two size ≥ align), and null
    // when memory cannot grow.
    // In line into the allocator shims (`__rust_alloc`/`__rust_dealloc`): one call per
    // allocation and per free instead of two (a call costs wasmi host time beyond its fuel).
    unsafe impl GlobalAlloc for GuestHeap {
        #[inline(always)]
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: single-threaded; this reference ends with the call.
            unsafe { self.heap() }.alloc(layout)
        }

        #[inline(always)]
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: GlobalAlloc's contract is `Heap::dealloc`'s.
            unsafe { self.heap().dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: GlobalAlloc's contract is `Heap::realloc`'s.
            unsafe { self.heap().realloc(ptr, layout, new_size) }
        }
    }
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use alloc::vec::Vec;
    use core::alloc::Layout;

    use super::{Heap, Memory, PAGE};

    /// A "linear memory" inside a native buffer: `pages` of it are usable at first, up to
    /// `max` pages. Addresses are real pointers into the buffer.
    struct Buffer {
        base: usize,
        pages: usize,
        max: usize,
        grows: usize,
        _storage: Vec<u64>,
    }

    impl Buffer {
        fn new(pages: usize, max: usize) -> Self {
            // Over-allocate and round the base up to a page, as a linear memory starts at 0.
            let storage = alloc::vec![0u64; (max + 1) * PAGE / 8];
            let base = (storage.as_ptr() as usize).next_multiple_of(PAGE);
            Self { base, pages, max, grows: 0, _storage: storage }
        }
    }

    impl Memory for &mut Buffer {
        fn grow(&mut self, pages: usize) -> Option<usize> {
            if self.pages + pages > self.max {
                return None;
            }
            self.pages += pages;
            self.grows += 1;
            Some(self.base + self.pages * PAGE)
        }
    }

    fn heap(buffer: &mut Buffer, heap_base: usize) -> Heap<&mut Buffer> {
        let (start, end) = (buffer.base + heap_base, buffer.base + buffer.pages * PAGE);
        Heap::new(start, end, buffer)
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).expect("layout")
    }

    #[test]
    fn blocks_are_aligned_disjoint_and_inside_memory() {
        // Up to ≈ 700 blocks of up to 4 KiB live at once: room for them, however fragmented.
        let mut buffer = Buffer::new(1, 96);
        let base = buffer.base;
        let mut heap = heap(&mut buffer, 41_000);
        let mut live: Vec<(usize, usize)> = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for i in 0..2_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let size = 1 + (seed % 3_000) as usize;
            let align = 1usize << ((seed >> 60) % 5);
            if i % 3 == 2 && !live.is_empty() {
                let (ptr, size) = live.swap_remove((seed as usize >> 8) % live.len());
                // SAFETY: allocated below with this layout (align 1 stands for any: class
                // depends on max(size, align), and size ≥ align was kept by construction).
                unsafe { heap.dealloc(ptr as *mut u8, layout(size, 1)) };
                continue;
            }
            let size = size.max(align);
            let ptr = heap.alloc(layout(size, align)) as usize;
            assert_ne!(ptr, 0, "allocation {i} of {size} failed");
            assert_eq!(ptr % align, 0, "{ptr:#x} not aligned to {align}");
            assert!(ptr >= base + 41_000, "below the heap base");
            for &(other, other_size) in &live {
                assert!(ptr + size <= other || other + other_size <= ptr, "overlap");
            }
            // SAFETY: the block is ours and `size` long: writing it all must not disturb
            // another block (checked by the overlap test and the free lists staying sane).
            unsafe { core::ptr::write_bytes(ptr as *mut u8, 0xa5, size) };
            live.push((ptr, size));
        }
        assert!(heap.end <= base + 96 * PAGE);
    }

    #[test]
    fn the_initial_slack_is_used_before_growing() {
        let mut buffer = Buffer::new(1, 4);
        {
            let mut heap = heap(&mut buffer, 40_000);
            // 24 KiB of slack: a few hundred small blocks fit without growing.
            for _ in 0..300 {
                assert!(!heap.alloc(layout(48, 8)).is_null());
            }
        }
        assert_eq!(buffer.grows, 0, "grew although the initial page had room");
        let mut heap = heap(&mut buffer, 40_000);
        // A block that does not fit grows the memory just enough (and keeps it contiguous).
        let big = heap.alloc(layout(40_000, 1));
        assert!(!big.is_null());
        assert_eq!(heap.end, heap.memory.base + 2 * PAGE);
    }

    #[test]
    fn freed_blocks_are_reused_so_memory_stays_bounded() {
        let mut buffer = Buffer::new(1, 2);
        let mut heap = heap(&mut buffer, 33_000);
        let top = {
            // One "request": a few allocations of assorted sizes, all freed.
            let request = |heap: &mut Heap<&mut Buffer>| {
                let sizes = [13, 200, 64, 1_000, 7, 4_000];
                let ptrs: Vec<_> = sizes.iter().map(|&s| heap.alloc(layout(s, 1))).collect();
                for (&p, &s) in ptrs.iter().zip(&sizes) {
                    assert!(!p.is_null());
                    // SAFETY: allocated just above with this layout.
                    unsafe { heap.dealloc(p, layout(s, 1)) };
                }
            };
            request(&mut heap);
            let after_one = heap.next;
            for _ in 0..10_000 {
                request(&mut heap);
            }
            assert_eq!(heap.next, after_one, "the bump pointer moved: freed blocks not reused");
            after_one
        };
        assert!(top <= heap.end);
    }

    #[test]
    fn out_of_memory_is_null_and_leaves_the_heap_usable() {
        let mut buffer = Buffer::new(1, 2);
        let mut heap = heap(&mut buffer, 60_000);
        assert!(heap.alloc(layout(3 * PAGE, 1)).is_null(), "cannot grow past the maximum");
        let next = heap.next;
        assert!(!heap.alloc(layout(16, 8)).is_null(), "small blocks still come");
        assert!(heap.next > next);
        assert!(heap.alloc(layout(usize::MAX / 2, 1)).is_null(), "no block that large");
    }

    #[test]
    fn realloc_keeps_the_block_within_its_size_and_moves_the_bytes_otherwise() {
        let mut buffer = Buffer::new(1, 4);
        let mut heap = heap(&mut buffer, 40_000);
        let a = heap.alloc(layout(20, 1));
        // SAFETY: `a` is 20 bytes of ours (a 32-byte block).
        unsafe { core::ptr::copy_nonoverlapping(b"0123456789abcdefghij".as_ptr(), a, 20) };
        // SAFETY: `a` was allocated with (20, 1).
        let same = unsafe { heap.realloc(a, layout(20, 1), 32) };
        assert_eq!(same, a, "20 → 32 bytes stays in its 32-byte block");
        // SAFETY: `same` was reallocated to (32, 1).
        let moved = unsafe { heap.realloc(same, layout(32, 1), 100) };
        assert_ne!(moved, a);
        // SAFETY: `moved` is 100 bytes of ours, the first 32 copied.
        let bytes = unsafe { core::slice::from_raw_parts(moved, 20) };
        assert_eq!(bytes, b"0123456789abcdefghij");
        // The old 32-byte block is free again: the next 32-byte request reuses it.
        assert_eq!(heap.alloc(layout(30, 1)), a);
    }

    #[test]
    fn the_alignment_gap_is_recycled_not_lost() {
        let mut buffer = Buffer::new(2, 2);
        let base = buffer.base;
        let mut heap = heap(&mut buffer, 40_008);
        // A 4 KiB block is carved at the next 4 KiB boundary; the 8..4096-byte gap below it
        // becomes free blocks that the next small requests get.
        let big = heap.alloc(layout(4_096, 1)) as usize;
        assert_eq!((big - base) % 4_096, 0);
        let small = heap.alloc(layout(8, 1)) as usize;
        assert!(small < big, "the gap below the 4 KiB block is reused");
        assert!(small >= base + 40_008);
    }
}
