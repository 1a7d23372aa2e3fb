//! Locks that work with and without `std`: std's locks when available (threads park
//! instead of spinning), `spin` otherwise. Poisoning is ignored: a panic never leaves the
//! engine's data half-updated in a way a later reader would misread.
//!
//! [`atomic`] holds the atomic integers the engine counts with, so the crate builds on
//! targets without 64-bit atomics.

/// Atomics for the engine's counters and flags.
///
/// On targets with native 64-bit atomics (x86_64, aarch64, wasm32, ...) these are exactly
/// `core::sync::atomic`'s types: the hot path pays nothing for portability. Targets with
/// 32-bit atomic CAS but no 64-bit atomics (e.g. `thumbv7em-none-eabihf`) get
/// `AtomicU64`/`AtomicI64` from `portable-atomic`'s `fallback` implementation, which
/// guards each 64-bit value with a global spin-lock table built on the native 32-bit
/// atomics, so the embedder supplies nothing.
///
/// Those fallback locks are not interrupt-safe: an embedder that drives the engine from an
/// interrupt handler as well as from the main loop, on a single-core chip, should build
/// with `RUSTFLAGS="--cfg portable_atomic_unsafe_assume_single_core"` so 64-bit updates
/// disable interrupts instead of spinning.
pub mod atomic {
    pub use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    #[cfg(target_has_atomic = "64")]
    pub use core::sync::atomic::{AtomicI64, AtomicU64};

    #[cfg(not(target_has_atomic = "64"))]
    pub use portable_atomic::{AtomicI64, AtomicU64};
}

#[cfg(feature = "std")]
mod imp {
    /// A mutual-exclusion lock.
    #[derive(Debug, Default)]
    pub struct Mutex<T>(std::sync::Mutex<T>);
    /// Guard of [`Mutex`].
    pub type MutexGuard<'a, T> = std::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        /// A new unlocked mutex.
        pub const fn new(value: T) -> Self {
            Mutex(std::sync::Mutex::new(value))
        }
        /// Lock it.
        pub fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    /// A reader-writer lock.
    #[derive(Debug, Default)]
    pub struct RwLock<T>(std::sync::RwLock<T>);
    /// Read guard of [`RwLock`].
    pub type RwLockReadGuard<'a, T> = std::sync::RwLockReadGuard<'a, T>;
    /// Write guard of [`RwLock`].
    pub type RwLockWriteGuard<'a, T> = std::sync::RwLockWriteGuard<'a, T>;

    impl<T> RwLock<T> {
        /// A new unlocked lock.
        pub const fn new(value: T) -> Self {
            RwLock(std::sync::RwLock::new(value))
        }
        /// Lock for reading.
        pub fn read(&self) -> RwLockReadGuard<'_, T> {
            self.0.read().unwrap_or_else(|e| e.into_inner())
        }
        /// Lock for writing.
        pub fn write(&self) -> RwLockWriteGuard<'_, T> {
            self.0.write().unwrap_or_else(|e| e.into_inner())
        }
    }
}

#[cfg(not(feature = "std"))]
mod imp {
    /// A mutual-exclusion lock.
    #[derive(Debug, Default)]
    pub struct Mutex<T>(spin::Mutex<T>);
    /// Guard of [`Mutex`].
    pub type MutexGuard<'a, T> = spin::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        /// A new unlocked mutex.
        pub const fn new(value: T) -> Self {
            Mutex(spin::Mutex::new(value))
        }
        /// Lock it.
        pub fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock()
        }
    }

    /// A reader-writer lock.
    #[derive(Debug, Default)]
    pub struct RwLock<T>(spin::RwLock<T>);
    /// Read guard of [`RwLock`].
    pub type RwLockReadGuard<'a, T> = spin::RwLockReadGuard<'a, T>;
    /// Write guard of [`RwLock`].
    pub type RwLockWriteGuard<'a, T> = spin::RwLockWriteGuard<'a, T>;

    impl<T> RwLock<T> {
        /// A new unlocked lock.
        pub const fn new(value: T) -> Self {
            RwLock(spin::RwLock::new(value))
        }
        /// Lock for reading.
        pub fn read(&self) -> RwLockReadGuard<'_, T> {
            self.0.read()
        }
        /// Lock for writing.
        pub fn write(&self) -> RwLockWriteGuard<'_, T> {
            self.0.write()
        }
    }
}

pub use imp::*;

#[cfg(test)]
mod tests {
    /// Where the target has 64-bit atomics, the engine's counters are `core`'s own types
    /// (this only compiles if they are the same type), so std builds lose no speed.
    #[cfg(target_has_atomic = "64")]
    #[test]
    fn native_64_bit_atomics_are_cores() {
        use super::atomic::{AtomicI64, AtomicU64, Ordering};
        let unsigned: core::sync::atomic::AtomicU64 = AtomicU64::new(1);
        let signed: core::sync::atomic::AtomicI64 = AtomicI64::new(-1);
        assert_eq!(unsigned.fetch_add(1, Ordering::Relaxed), 1);
        assert_eq!(signed.fetch_sub(1, Ordering::Relaxed), -1);
    }
}
