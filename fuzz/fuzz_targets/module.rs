//! The module reader (`fusebench inspect`): any bytes, as a binary module or as WebAssembly text,
//! read and validated into the (T, F, M, G, E, I) summary. It may refuse, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The file name decides nothing for binary input; `.wat` lets text through the converter.
    let Ok(bytes) = fusebench_model::module::module_bytes("fuzz.wat", data) else { return };
    if let Ok(info) = fusebench_model::module::inspect(&bytes) {
        let _ = info.exported_memory();
        let _ = info.imported_func_count();
        let _ = info.func_imports().count();
    }
});
