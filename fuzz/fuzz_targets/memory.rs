//! Counts the bytes allocated on the current thread, so that the property
//! checks can bound what the connection allocates (`crate::memory`, as
//! `tests/fuzz_props/mod.rs` asks of the crate that includes it).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    /// Bytes allocated minus bytes freed on this thread.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// The highest `LIVE` since `start`.
    static PEAK: Cell<isize> = const { Cell::new(0) };
    /// `LIVE` at `start`.
    static BASE: Cell<isize> = const { Cell::new(0) };
}

fn add(delta: isize) {
    // `try_with`: the thread may be shutting down. The cells have no
    // destructor and const initialisers, so this never allocates.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are
// updated on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The most bytes held at once on this thread while `f` runs, beyond what
/// was held before (`crate::memory::peak`, used by `tests/fuzz_props/`).
pub(crate) fn peak(f: impl FnOnce()) -> Option<usize> {
    start();
    f();
    peak_since_start()
}

/// Starts a measurement.
fn start() {
    let live = LIVE.with(Cell::get);
    BASE.with(|b| b.set(live));
    PEAK.with(|p| p.set(live));
}

/// The most bytes held at once since `start`, beyond what was held then.
fn peak_since_start() -> Option<usize> {
    let base = BASE.with(Cell::get);
    Some(PEAK.with(Cell::get).saturating_sub(base).max(0) as usize)
}
