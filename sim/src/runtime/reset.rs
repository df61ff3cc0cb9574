//! Recycling a used instance as a fresh one.
//!
//! wasmi spends most of a fresh instance's cost in `Module::instantiate` (one function entity
//! per function, the export map, the table's elements, the memory zeroed and its data copied)
//! and in dropping the `Store` afterwards. For a module whose whole instance state after
//! instantiation is its linear memory and its mutable globals, the same state is had by putting
//! those back: the instance's memory bytes and the globals' values as instantiation left them.
//! That is what a fresh instance is (memory, globals, tables as instantiated; nothing left of the
//! previous request), at the price of one copy of the initial memory.
//!
//! A module qualifies ([`plan`]) when nothing else of an instance can change or differ:
//! - no start function and no `_initialize` (instantiation runs no guest code, so the state
//!   right after it is the same every time, and nothing is charged or drawn there);
//! - no imports but functions (an imported memory, table or global would be shared state);
//! - no instruction that changes a table or a segment (`table.set`/`grow`/`fill`/`copy`/`init`,
//!   `elem.drop`, `data.drop`): tables then stay as the element segments filled them, and
//!   passive segments stay as they are;
//! - its mutable globals are numbers (`i32`, `i64`, `f32`, `f64`): a reference would name an
//!   entity of one store.
//!
//! The plan exports each mutable global under a name of its own (`fusebench:reset/global/<i>`,
//! refused if the module already uses it), so the host can read and restore globals the guest
//! keeps private (a Rust module's `__stack_pointer`). Only the export section changes; the
//! code, and so every fuel figure, is the module's own. An instance whose memory grew is not
//! recycled (a memory cannot shrink); one that faulted never returns to the host.

use std::sync::Arc;

use wasmi::Val;
use wasmparser::{Operator, Parser, Payload, TypeRef, ValType};

use super::host::{HostState, LiveToken, MemoryLimiter, ServiceShared};
use super::invoke::GuestInstance;
use super::step::InstanceId;

/// The prefix of the export names a plan adds.
const EXPORT_PREFIX: &str = "fusebench:reset/global/";

/// How instances of a module are recycled: the module to compile (the original with its
/// mutable globals exported) and those exports' names.
#[derive(Debug, Clone)]
pub(crate) struct ResetPlan {
    pub wasm: Vec<u8>,
    pub globals: Vec<String>,
}

/// The plan for `wasm` (a valid module), or `None` when its instances cannot be recycled.
pub(crate) fn plan(wasm: &[u8]) -> Option<ResetPlan> {
    let mut mutable = Vec::new();
    let mut export_names = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.ok()? {
            Payload::StartSection { .. } | Payload::TagSection(_) => return None,
            Payload::ImportSection(reader) => {
                for import in reader {
                    if !matches!(import.ok()?.ty, TypeRef::Func(_)) {
                        return None;
                    }
                }
            }
            Payload::GlobalSection(reader) => {
                for (index, global) in reader.into_iter().enumerate() {
                    let ty = global.ok()?.ty;
                    if !ty.mutable {
                        continue;
                    }
                    if !matches!(
                        ty.content_type,
                        ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64
                    ) || ty.shared
                    {
                        return None;
                    }
                    mutable.push(u32::try_from(index).ok()?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.ok()?;
                    if export.name == "_initialize" {
                        return None;
                    }
                    export_names.push(export.name.to_owned());
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut ops = body.get_operators_reader().ok()?;
                while !ops.eof() {
                    if changes_table_or_segment(&ops.read().ok()?) {
                        return None;
                    }
                }
            }
            _ => {}
        }
    }
    let globals: Vec<String> = mutable.iter().map(|i| format!("{EXPORT_PREFIX}{i}")).collect();
    if globals.iter().any(|g| export_names.contains(g)) {
        return None;
    }
    let added: Vec<(&str, u32)> =
        globals.iter().map(String::as_str).zip(mutable.iter().copied()).collect();
    let wasm = with_global_exports(wasm, &added)?;
    Some(ResetPlan { wasm, globals })
}

/// Recycled instances waiting, at most this many per service.
const SPARES_MAX: usize = 8;

/// A service's recycled instances and the state they are put back to.
#[derive(Debug)]
pub(crate) struct Recycler {
    /// The plan's global export names (what [`GuestInstance::globals`] resolves).
    pub globals: Vec<String>,
    /// The state of an instance right after instantiation, taken from the first one.
    pristine: Option<Pristine>,
    /// Instances put back to that state, not counted as live; the last one is used first.
    #[expect(
        clippy::vec_box,
        reason = "boxed like every other instance: moved by pointer to a slice and the slab"
    )]
    spares: Vec<Box<GuestInstance>>,
}

#[derive(Debug)]
struct Pristine {
    memory: Vec<u8>,
    /// Per [`CHUNK`] bytes of `memory`: whether they are all zero.
    zero_chunks: Vec<bool>,
    globals: Vec<Val>,
    limiter: MemoryLimiter,
}

impl Recycler {
    pub(crate) fn new(globals: Vec<String>) -> Self {
        Self { globals, pristine: None, spares: Vec::new() }
    }

    /// Remembers the state of `inst`, just instantiated (no guest code has run in it: the plan
    /// admits no start function and no `_initialize`), unless known already.
    pub(crate) fn observe_fresh(&mut self, inst: &GuestInstance) {
        if self.pristine.is_some() {
            return;
        }
        let memory = inst.memory.data(&inst.store).to_vec();
        self.pristine = Some(Pristine {
            zero_chunks: memory.chunks(CHUNK).map(is_zero).collect(),
            memory,
            globals: inst.globals.iter().map(|g| g.get(&inst.store)).collect(),
            limiter: inst.store.data().limiter.clone(),
        });
    }

    /// Puts a retired instance (its request succeeded) back to the pristine state and keeps it,
    /// or drops it: when its memory grew, or enough wait already.
    pub(crate) fn recycle(&mut self, mut inst: Box<GuestInstance>) {
        let Some(pristine) = &self.pristine else { return };
        if self.spares.len() >= SPARES_MAX || inst.globals.len() != pristine.globals.len() {
            return;
        }
        let memory = inst.memory.data_mut(&mut inst.store);
        if memory.len() != pristine.memory.len() {
            return;
        }
        restore(memory, &pristine.memory, &pristine.zero_chunks);
        for (global, value) in inst.globals.iter().zip(&pristine.globals) {
            if global.set(&mut inst.store, value.clone()).is_err() {
                return;
            }
        }
        inst.store.data_mut().release_live_token();
        self.spares.push(inst);
    }

    /// Recycled instances waiting.
    #[cfg(test)]
    pub(crate) fn spares(&self) -> usize {
        self.spares.len()
    }

    /// Whether [`take`](Self::take) has an instance to give.
    pub(crate) fn ready(&self) -> bool {
        self.pristine.is_some() && !self.spares.is_empty()
    }

    /// A recycled instance as instance `id`, with the host state of a new one, or `None`.
    pub(crate) fn take(
        &mut self,
        shared: &Arc<ServiceShared>,
        id: InstanceId,
        live: LiveToken,
        now_nanos: u64,
    ) -> Option<Box<GuestInstance>> {
        let pristine = self.pristine.as_ref()?;
        let mut inst = self.spares.pop()?;
        let mut state = HostState::new(Arc::clone(shared), id, live);
        state.limiter = pristine.limiter.clone();
        state.memory = Some(inst.memory);
        state.now_nanos = now_nanos;
        *inst.store.data_mut() = state;
        inst.id = id;
        Some(inst)
    }
}

/// Bytes compared or restored at a time.
const CHUNK: usize = 1024;

/// Makes `memory` equal to `pristine` (of the same length; `zero` says which of its chunks are
/// all zero). A request touches a few of an instance's chunks (stack top, heap start): reading
/// a chunk to find it unchanged costs less than writing it, and most of the memory is zeros
/// that only need a look.
fn restore(memory: &mut [u8], pristine: &[u8], zero: &[bool]) {
    let chunks = memory.chunks_mut(CHUNK).zip(pristine.chunks(CHUNK)).zip(zero);
    for ((dst, src), &zero) in chunks {
        if zero {
            if !is_zero(dst) {
                dst.fill(0);
            }
        } else if dst != src {
            dst.copy_from_slice(src);
        }
    }
}

fn is_zero(bytes: &[u8]) -> bool {
    let (words, rest) = bytes.as_chunks::<8>();
    words.iter().fold(0, |acc, w| acc | u64::from_ne_bytes(*w)) == 0 && rest.iter().all(|&b| b == 0)
}

fn changes_table_or_segment(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::TableSet { .. }
            | Operator::TableGrow { .. }
            | Operator::TableFill { .. }
            | Operator::TableCopy { .. }
            | Operator::TableInit { .. }
            | Operator::ElemDrop { .. }
            | Operator::DataDrop { .. }
    )
}

/// `wasm` with `added` (name, global index) appended to its export section (created after the
/// global section's place if it has none). Everything else is copied as is: exports shift no
/// index.
fn with_global_exports(wasm: &[u8], added: &[(&str, u32)]) -> Option<Vec<u8>> {
    const EXPORT_ID: u8 = 7;
    let header = wasm.get(..8)?;
    let mut out = Vec::with_capacity(wasm.len() + 32 * added.len() + 8);
    out.extend_from_slice(header);
    let mut at = 8;
    let mut written = false;
    while at < wasm.len() {
        let id = *wasm.get(at)?;
        let (size, leb) = read_u32(wasm.get(at + 1..)?)?;
        let start = at + 1 + leb;
        let end = start.checked_add(usize::try_from(size).ok()?)?;
        let content = wasm.get(start..end)?;
        // Sections after exports (custom sections excepted) come in id order: start (8),
        // element (9), data count (12), code (10), data (11).
        let after_exports = matches!(id, 8..=12);
        if id == EXPORT_ID {
            let (count, leb) = read_u32(content)?;
            write_section(&mut out, EXPORT_ID, count, &content[leb..], added)?;
            written = true;
        } else {
            if after_exports && !written {
                write_section(&mut out, EXPORT_ID, 0, &[], added)?;
                written = true;
            }
            out.extend_from_slice(&wasm[at..end]);
        }
        at = end;
    }
    if !written {
        write_section(&mut out, EXPORT_ID, 0, &[], added)?;
    }
    Some(out)
}

fn write_section(
    out: &mut Vec<u8>,
    id: u8,
    count: u32,
    entries: &[u8],
    added: &[(&str, u32)],
) -> Option<()> {
    let mut content = Vec::with_capacity(entries.len() + 32 * added.len() + 5);
    write_u32(&mut content, count.checked_add(u32::try_from(added.len()).ok()?)?);
    content.extend_from_slice(entries);
    for (name, index) in added {
        write_u32(&mut content, u32::try_from(name.len()).ok()?);
        content.extend_from_slice(name.as_bytes());
        content.push(GLOBAL_KIND);
        write_u32(&mut content, *index);
    }
    out.push(id);
    write_u32(out, u32::try_from(content.len()).ok()?);
    out.extend_from_slice(&content);
    Some(())
}

/// The export kind byte of a global.
const GLOBAL_KIND: u8 = 3;

fn read_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(5) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((u32::try_from(value).ok()?, i + 1));
        }
    }
    None
}

fn write_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wasm(wat: &str) -> Vec<u8> {
        fusebench_model::module::module_bytes("test.wat", wat.as_bytes()).expect("valid WAT")
    }

    #[test]
    fn restore_gives_back_the_pristine_bytes() {
        let mut pristine = vec![0_u8; 5 * CHUNK + 300];
        pristine[CHUNK + 17] = 9;
        pristine[4 * CHUNK..4 * CHUNK + 40].fill(7);
        pristine[5 * CHUNK + 299] = 1;
        let zero: Vec<bool> = pristine.chunks(CHUNK).map(is_zero).collect();
        assert_eq!(zero, [true, false, true, true, false, false]);
        let dirty = [0, CHUNK - 1, CHUNK + 17, 2 * CHUNK + 8, 4 * CHUNK + 3, 5 * CHUNK + 299];
        for at in dirty {
            let mut memory = pristine.clone();
            memory[at] = memory[at].wrapping_add(1);
            restore(&mut memory, &pristine, &zero);
            assert!(memory == pristine, "byte {at}");
        }
        let mut memory = vec![0xff_u8; pristine.len()];
        restore(&mut memory, &pristine, &zero);
        assert!(memory == pristine);
    }

    #[test]
    fn exports_every_mutable_global_and_keeps_the_rest() {
        let module = wasm(
            r#"(module
                 (global $sp (mut i32) (i32.const 1024))
                 (global $k i32 (i32.const 7))
                 (global $n (mut i64) (i64.const 3))
                 (memory (export "memory") 1)
                 (func (export "f") (global.set $sp (i32.const 5))))"#,
        );
        let plan = plan(&module).expect("resettable");
        assert_eq!(plan.globals, ["fusebench:reset/global/0", "fusebench:reset/global/2"]);
        let info = fusebench_model::module::inspect(&plan.wasm).expect("valid");
        let names: Vec<&str> = info.exports.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["memory", "f", "fusebench:reset/global/0", "fusebench:reset/global/2"]);
        let before = fusebench_model::module::inspect(&module).expect("valid");
        assert_eq!(before.functions.len(), info.functions.len());
        assert_eq!(before.sections.len(), info.sections.len());
    }

    #[test]
    fn a_module_without_exports_gets_an_export_section_in_its_place() {
        let module = wasm(
            r#"(module (global (mut i32) (i32.const 1)) (func) (data (i32.const 0) "x")
                 (memory 1))"#,
        );
        let plan = plan(&module).expect("resettable");
        let info = fusebench_model::module::inspect(&plan.wasm).expect("valid");
        assert_eq!(info.exports.len(), 1);
    }

    #[test]
    fn refuses_what_a_reset_would_not_restore() {
        let refused = [
            r#"(module (func $s) (start $s))"#,
            r#"(module (func (export "_initialize")))"#,
            r#"(module (import "env" "m" (memory 1)))"#,
            r#"(module (global (mut funcref) (ref.null func)))"#,
            r#"(module (table 1 funcref) (func (table.set (i32.const 0) (ref.null func))))"#,
            r#"(module (table 1 funcref) (func (drop (table.grow (ref.null func) (i32.const 1)))))"#,
            r#"(module (memory 1) (data "x") (func (data.drop 0)))"#,
            r#"(module (table 1 funcref) (elem func $f) (func $f (elem.drop 0)))"#,
            r#"(module (global (mut i32) (i32.const 0))
                 (func (export "fusebench:reset/global/0")))"#,
        ];
        for wat in refused {
            assert!(plan(&wasm(wat)).is_none(), "{wat}");
        }
        let accepted = r#"(module (import "fusebench" "now" (func (result i64)))
            (table 1 funcref) (elem (i32.const 0) func $f) (func $f)
            (memory (export "memory") 1) (data "x")
            (func (memory.init 0 (i32.const 0) (i32.const 0) (i32.const 1))))"#;
        assert!(plan(&wasm(accepted)).is_some());
    }
}
