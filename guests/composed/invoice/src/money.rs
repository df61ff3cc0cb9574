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
        #[link_name = "round_to"]
        fn round_to_import(cents: i64, step: i32) -> i64;
        #[link_name = "convert_cents"]
        fn convert_cents_import(cents: i64, from: i32, to: i32) -> i64;
    }

    // SAFETY (each): scalars in, a scalar out; the library touches no memory of ours.
    pub fn tax_cents(amount: i64, basis_points: i32) -> i64 {
        unsafe { tax_cents_import(amount, basis_points) }
    }

    pub fn round_to(cents: i64, step: i32) -> i64 {
        unsafe { round_to_import(cents, step) }
    }

    pub fn convert_cents(cents: i64, from: i32, to: i32) -> i64 {
        unsafe { convert_cents_import(cents, from, to) }
    }
}

#[cfg(target_arch = "wasm32")]
pub use linked::{convert_cents, round_to, tax_cents};

#[cfg(not(target_arch = "wasm32"))]
mod native {
    const EUR_MICROS: [i64; 3] = [1_000_000, 920_000, 1_040_000];

    fn div_round(a: i64, b: i64) -> i64 {
        if a < 0 { -((-a + b / 2) / b) } else { (a + b / 2) / b }
    }

    pub fn tax_cents(amount: i64, basis_points: i32) -> i64 {
        div_round(amount * i64::from(basis_points), 10_000)
    }

    pub fn round_to(cents: i64, step: i32) -> i64 {
        if step <= 1 { cents } else { div_round(cents, i64::from(step)) * i64::from(step) }
    }

    pub fn convert_cents(cents: i64, from: i32, to: i32) -> i64 {
        match (usize::try_from(from), usize::try_from(to)) {
            (Ok(f), Ok(t)) if f < EUR_MICROS.len() && t < EUR_MICROS.len() => {
                div_round(cents * EUR_MICROS[f], EUR_MICROS[t])
            }
            _ => -1,
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::{convert_cents, round_to, tax_cents};
