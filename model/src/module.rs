//! The structure of a WebAssembly module, WASM = (T, F, M, G, E, I). (Being written.)
