//! The `money` library's exports this service links (guests/composed/money.c). On wasm32 they
//! are imports from module `money`, resolved by the library's instance; natively (tests) the
//! same arithmetic in Rust.

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // FFI to a linked library that takes and returns scalars only
mod linked {
    #[link(wasm_import_module = "money")]
    unsafe extern "C" {
        #[link_name = "tax_cents"]
        fn tax_cents_import(amount: i64, basis_points: i32) -> i64;
    }

    pub fn tax_cents(amount: i64, basis_points: i32) -> i64 {
        // SAFETY: scalars in, a scalar out; the library touches no memory of ours.
        unsafe { tax_cents_import(amount, basis_points) }
    }
}

#[cfg(target_arch = "wasm32")]
pub use linked::tax_cents;

/// `amount × bp / 10 000`, rounded half away from zero (what the library computes).
#[cfg(not(target_arch = "wasm32"))]
pub fn tax_cents(amount: i64, basis_points: i32) -> i64 {
    let product = amount * i64::from(basis_points);
    if product < 0 { -((-product + 5_000) / 10_000) } else { (product + 5_000) / 10_000 }
}
