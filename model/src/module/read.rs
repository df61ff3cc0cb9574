//! Reading the structure out of a module the validator has already accepted.
//!
//! A second pass over the bytes rather than hooks inside validation: it keeps validation a
//! single library call whose verdict we report verbatim, and this pass simple. It still returns
//! errors instead of assuming validity, so that a mismatch between the two passes can never
//! become a panic.

use std::collections::BTreeMap;

use wasmparser::{
    BinaryReaderError, KnownCustom, Name, NameSectionReader, Parser, Payload,
    ProducersSectionReader, RefType, TypeRef,
};

use super::{
    CustomSection, Export, ExternKind, FuncSig, Function, Global, Import, Memory, ModuleError,
    ModuleInfo, Producer, Section, Table, Tag, ValType, invalid,
};

pub(super) fn module_info(bytes: &[u8]) -> Result<ModuleInfo, ModuleError> {
    let mut reader = Reader::default();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| invalid(&e))?;
        if let Some(section) = section_entry(&payload) {
            reader.sections.push(section);
        }
        reader.payload(payload)?;
    }
    Ok(reader.finish(bytes.len()))
}

/// The names `wasm-objdump` gives section ids, so reports and the objdump comparison agree.
fn section_name(id: u8) -> &'static str {
    match id {
        0 => "Custom",
        1 => "Type",
        2 => "Import",
        3 => "Function",
        4 => "Table",
        5 => "Memory",
        6 => "Global",
        7 => "Export",
        8 => "Start",
        9 => "Elem",
        10 => "Code",
        11 => "Data",
        12 => "DataCount",
        13 => "Tag",
        _ => "Unknown",
    }
}

fn section_entry(payload: &Payload<'_>) -> Option<Section> {
    let (id, range) = payload.as_section()?;
    let (count, custom_name) = match payload {
        Payload::TypeSection(r) => (Some(r.count()), None),
        Payload::ImportSection(r) => (Some(r.count()), None),
        Payload::FunctionSection(r) => (Some(r.count()), None),
        Payload::TableSection(r) => (Some(r.count()), None),
        Payload::MemorySection(r) => (Some(r.count()), None),
        Payload::TagSection(r) => (Some(r.count()), None),
        Payload::GlobalSection(r) => (Some(r.count()), None),
        Payload::ExportSection(r) => (Some(r.count()), None),
        Payload::ElementSection(r) => (Some(r.count()), None),
        Payload::DataSection(r) => (Some(r.count()), None),
        Payload::DataCountSection { count, .. } | Payload::CodeSectionStart { count, .. } => {
            (Some(*count), None)
        }
        Payload::CustomSection(r) => (None, Some(r.name().to_owned())),
        _ => (None, None),
    };
    Some(Section {
        id,
        name: section_name(id),
        custom_name,
        offset: at(range.start),
        size_bytes: at(range.end.saturating_sub(range.start)),
        count,
    })
}

#[derive(Default)]
struct Reader {
    types: Vec<FuncSig>,
    functions: Vec<Function>,
    tables: Vec<Table>,
    memories: Vec<Memory>,
    globals: Vec<Global>,
    tags: Vec<Tag>,
    exports: Vec<Export>,
    imports: Vec<Import>,
    start: Option<u32>,
    data_segments: u32,
    element_segments: u32,
    custom_sections: Vec<CustomSection>,
    producers: Vec<Producer>,
    sections: Vec<Section>,
    warnings: Vec<String>,
    module_name: Option<String>,
    func_names: BTreeMap<u32, String>,
    global_names: BTreeMap<u32, String>,
}

impl Reader {
    fn payload(&mut self, payload: Payload<'_>) -> Result<(), ModuleError> {
        match payload {
            Payload::TypeSection(r) => {
                let offset = at(r.range().start);
                for ty in r.into_iter_err_on_gc_types() {
                    let ty = ty.map_err(|e| invalid(&e))?;
                    let sig = FuncSig::new(
                        val_types(ty.params(), offset)?,
                        val_types(ty.results(), offset)?,
                    );
                    self.types.push(sig);
                }
            }
            Payload::ImportSection(r) => {
                for item in r.into_iter_with_offsets() {
                    let (offset, import) = item.map_err(|e| invalid(&e))?;
                    self.import(import.module, import.name, import.ty, at(offset))?;
                }
            }
            Payload::FunctionSection(r) => {
                for item in r.into_iter_with_offsets() {
                    let (offset, type_index) = item.map_err(|e| invalid(&e))?;
                    self.function(type_index, false, at(offset))?;
                }
            }
            Payload::TableSection(r) => {
                for item in r.into_iter_with_offsets() {
                    let (offset, table) = item.map_err(|e| invalid(&e))?;
                    self.table(table.ty, false, at(offset))?;
                }
            }
            Payload::MemorySection(r) => {
                for item in r {
                    self.memory(item.map_err(|e| invalid(&e))?, false);
                }
            }
            Payload::TagSection(r) => {
                for item in r.into_iter_with_offsets() {
                    let (offset, tag) = item.map_err(|e| invalid(&e))?;
                    self.tag(tag.func_type_idx, false, at(offset))?;
                }
            }
            Payload::GlobalSection(r) => {
                for item in r.into_iter_with_offsets() {
                    let (offset, global) = item.map_err(|e| invalid(&e))?;
                    self.global(global.ty, false, at(offset))?;
                }
            }
            Payload::ExportSection(r) => {
                for item in r.into_iter_with_offsets() {
                    let (offset, export) = item.map_err(|e| invalid(&e))?;
                    self.export(export, at(offset))?;
                }
            }
            Payload::StartSection { func, .. } => self.start = Some(func),
            Payload::ElementSection(r) => self.element_segments = r.count(),
            Payload::DataSection(r) => self.data_segments = r.count(),
            Payload::CustomSection(r) => {
                let range = r.range();
                self.custom_sections.push(CustomSection {
                    name: r.name().to_owned(),
                    size_bytes: at(range.end.saturating_sub(range.start)),
                });
                match r.as_known() {
                    KnownCustom::Name(names) => {
                        if let Err(err) = self.names(names) {
                            self.warn("name", &err);
                        }
                    }
                    KnownCustom::Producers(producers) => {
                        if let Err(err) = self.producers(producers) {
                            self.warn("producers", &err);
                        }
                    }
                    _ => {}
                }
            }
            // Code bodies, the data count and the header carry nothing the structure needs;
            // anything else was already rejected by the validator.
            _ => {}
        }
        Ok(())
    }

    fn sig(&self, type_index: u32, offset: u64) -> Result<FuncSig, ModuleError> {
        usize::try_from(type_index).ok().and_then(|i| self.types.get(i)).cloned().ok_or_else(|| {
            ModuleError::Invalid {
                message: format!("type index {type_index} out of bounds"),
                offset,
            }
        })
    }

    fn import(
        &mut self,
        module: &str,
        name: &str,
        ty: TypeRef,
        offset: u64,
    ) -> Result<(), ModuleError> {
        let (kind, index, sig) = match ty {
            TypeRef::Func(type_index) => {
                let index = self.function(type_index, true, offset)?;
                (ExternKind::Func, index, Some(self.sig(type_index, offset)?))
            }
            TypeRef::Table(table) => (ExternKind::Table, self.table(table, true, offset)?, None),
            TypeRef::Memory(memory) => (ExternKind::Memory, self.memory(memory, true), None),
            TypeRef::Global(global) => {
                (ExternKind::Global, self.global(global, true, offset)?, None)
            }
            TypeRef::Tag(tag) => {
                (ExternKind::Tag, self.tag(tag.func_type_idx, true, offset)?, None)
            }
        };
        self.imports.push(Import {
            module: module.to_owned(),
            name: name.to_owned(),
            kind,
            index,
            sig,
        });
        Ok(())
    }

    fn function(
        &mut self,
        type_index: u32,
        imported: bool,
        offset: u64,
    ) -> Result<u32, ModuleError> {
        let index = next_index(self.functions.len());
        let sig = self.sig(type_index, offset)?;
        self.functions.push(Function {
            index,
            type_index,
            sig,
            name: None,
            imported,
            export_names: Vec::new(),
        });
        Ok(index)
    }

    fn table(
        &mut self,
        ty: wasmparser::TableType,
        imported: bool,
        offset: u64,
    ) -> Result<u32, ModuleError> {
        let index = next_index(self.tables.len());
        self.tables.push(Table {
            index,
            element: ref_type(ty.element_type, offset)?,
            min: ty.initial,
            max: ty.maximum,
            table64: ty.table64,
            imported,
        });
        Ok(index)
    }

    fn memory(&mut self, ty: wasmparser::MemoryType, imported: bool) -> u32 {
        let index = next_index(self.memories.len());
        self.memories.push(Memory {
            index,
            min_pages: ty.initial,
            max_pages: ty.maximum,
            memory64: ty.memory64,
            shared: ty.shared,
            imported,
        });
        index
    }

    fn global(
        &mut self,
        ty: wasmparser::GlobalType,
        imported: bool,
        offset: u64,
    ) -> Result<u32, ModuleError> {
        let index = next_index(self.globals.len());
        self.globals.push(Global {
            index,
            val_type: val_type(ty.content_type, offset)?,
            mutable: ty.mutable,
            imported,
            name: None,
        });
        Ok(index)
    }

    fn tag(&mut self, type_index: u32, imported: bool, offset: u64) -> Result<u32, ModuleError> {
        let index = next_index(self.tags.len());
        let sig = self.sig(type_index, offset)?;
        self.tags.push(Tag { index, type_index, sig, imported });
        Ok(index)
    }

    fn export(&mut self, export: wasmparser::Export<'_>, offset: u64) -> Result<(), ModuleError> {
        use wasmparser::ExternalKind as K;
        let kind = match export.kind {
            K::Func => ExternKind::Func,
            K::Table => ExternKind::Table,
            K::Memory => ExternKind::Memory,
            K::Global => ExternKind::Global,
            K::Tag => ExternKind::Tag,
        };
        let sig = match kind {
            ExternKind::Func => {
                let function = usize::try_from(export.index)
                    .ok()
                    .and_then(|i| self.functions.get_mut(i))
                    .ok_or_else(|| ModuleError::Invalid {
                        message: format!("exported function {} out of bounds", export.index),
                        offset,
                    })?;
                function.export_names.push(export.name.to_owned());
                Some(function.sig.clone())
            }
            _ => None,
        };
        self.exports.push(Export { name: export.name.to_owned(), kind, index: export.index, sig });
        Ok(())
    }

    fn names(&mut self, reader: NameSectionReader<'_>) -> Result<(), BinaryReaderError> {
        for name in reader {
            match name? {
                Name::Module { name, .. } => self.module_name = Some(name.to_owned()),
                Name::Function(map) => {
                    for naming in map {
                        let naming = naming?;
                        self.func_names.insert(naming.index, naming.name.to_owned());
                    }
                }
                Name::Global(map) => {
                    for naming in map {
                        let naming = naming?;
                        self.global_names.insert(naming.index, naming.name.to_owned());
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn producers(&mut self, reader: ProducersSectionReader<'_>) -> Result<(), BinaryReaderError> {
        for field in reader {
            let field = field?;
            for value in field.values {
                let value = value?;
                self.producers.push(Producer {
                    field: field.name.to_owned(),
                    name: value.name.to_owned(),
                    version: value.version.to_owned(),
                });
            }
        }
        Ok(())
    }

    fn warn(&mut self, section: &str, err: &BinaryReaderError) {
        self.warnings.push(format!(
            "custom section `{section}` is malformed at offset {:#x}: {}; the rest of it was ignored",
            err.offset(),
            err.message()
        ));
    }

    fn finish(mut self, size: usize) -> ModuleInfo {
        for function in &mut self.functions {
            function.name = self.func_names.remove(&function.index);
        }
        for global in &mut self.globals {
            global.name = self.global_names.remove(&global.index);
        }
        ModuleInfo {
            size_bytes: u64::try_from(size).unwrap_or(u64::MAX),
            name: self.module_name,
            types: self.types,
            functions: self.functions,
            tables: self.tables,
            memories: self.memories,
            globals: self.globals,
            tags: self.tags,
            exports: self.exports,
            imports: self.imports,
            start: self.start,
            data_segments: self.data_segments,
            element_segments: self.element_segments,
            custom_sections: self.custom_sections,
            producers: self.producers,
            sections: self.sections,
            warnings: self.warnings,
        }
    }
}

/// Index spaces are bounded far below `u32::MAX` by the validator's limits, so saturating
/// here can never merge two entries in practice; it only keeps the function total.
fn next_index(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// A byte offset as wasmparser gives it, as the module's structure records it.
fn at(offset: usize) -> u64 {
    offset as u64
}

fn val_types(types: &[wasmparser::ValType], offset: u64) -> Result<Vec<ValType>, ModuleError> {
    types.iter().map(|&ty| val_type(ty, offset)).collect()
}

fn val_type(ty: wasmparser::ValType, offset: u64) -> Result<ValType, ModuleError> {
    use wasmparser::ValType as W;
    Ok(match ty {
        W::I32 => ValType::I32,
        W::I64 => ValType::I64,
        W::F32 => ValType::F32,
        W::F64 => ValType::F64,
        W::V128 => ValType::V128,
        W::Ref(r) => ref_type(r, offset)?,
    })
}

/// Only the nullable abstract references can reach here while GC and typed function references
/// are disabled in the validator; anything else is reported rather than assumed away.
fn ref_type(ty: RefType, offset: u64) -> Result<ValType, ModuleError> {
    if ty == RefType::FUNCREF {
        Ok(ValType::FuncRef)
    } else if ty == RefType::EXTERNREF {
        Ok(ValType::ExternRef)
    } else if ty == RefType::EXNREF {
        Ok(ValType::ExnRef)
    } else {
        Err(ModuleError::Unsupported { what: format!("reference type {ty}"), offset })
    }
}
