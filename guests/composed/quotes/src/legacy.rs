//! The legacy core's one export (`legacy.legacy_quote`). On wasm32 an import resolved by the
//! linked core's instance; natively (tests) a stand-in with the core's price list and no markup.

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // FFI to a linked library that takes and returns scalars only
mod linked {
    #[link(wasm_import_module = "legacy")]
    unsafe extern "C" {
        fn legacy_quote(sku: i32, qty: i32) -> i64;
    }

    pub fn quote(sku: i32, qty: i32) -> i64 {
        // SAFETY: scalars in, a scalar out; the core touches no memory of ours.
        unsafe { legacy_quote(sku, qty) }
    }
}

#[cfg(target_arch = "wasm32")]
pub use linked::quote;

/// The core's price list at 100 % markup.
#[cfg(not(target_arch = "wasm32"))]
pub fn quote(sku: i32, qty: i32) -> i64 {
    let base = match sku {
        1 => 1999,
        2 => 4550,
        3 => 12000,
        _ => return -1,
    };
    base * i64::from(qty)
}
