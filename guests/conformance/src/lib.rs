//! A small, synchronous fusebench host for testing the *committed* shop modules
//! (`scenarios/shop/modules/`) against their contracts, in every language.
//!
//! It implements guests/ABI.md with wasmi (fuel on, eager compilation) and an in-memory world:
//! key–value stores, caches, channels that only record what is published, a log, and `call`
//! routed to the other services' instances. Nothing here is the product's host (that lives in
//! the root workspace); this one exists so that the Rust, C, AssemblyScript and WAT modules can
//! be checked against the same scripts and against each other, without the simulator.
#![cfg(not(target_arch = "wasm32"))]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use wasmi::{
    Caller, CompilationMode, Config, Engine, Error, Extern, Instance, Linker, Memory, Module,
    Store, TypedFunc,
};

#[cfg(test)]
mod tests;

/// Fuel for one request, including everything its host calls run in other services.
pub const FUEL_PER_REQUEST: u64 = 50_000_000;

/// The directory of the committed modules.
#[must_use]
pub fn modules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/shop/modules")
}

/// The six shop services.
pub const SERVICES: [&str; 6] =
    ["catalog", "inventory", "orders", "payments", "shipping", "notifications"];

/// Which build of the shop to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// Every service from `modules/rust/`.
    Rust,
    /// `shop.toml`'s languages: catalog in AssemblyScript, payments in C, notifications in
    /// WAT, the rest in Rust.
    Polyglot,
}

/// The module file of `service` in `flavour`, relative to [`modules_dir`].
#[must_use]
pub fn module_path(service: &str, flavour: Flavour) -> String {
    match (flavour, service) {
        (Flavour::Polyglot, "catalog") => "as/catalog.wasm".into(),
        (Flavour::Polyglot, "payments") => "c/payments.wasm".into(),
        (Flavour::Polyglot, "notifications") => "wat/notifications.wat".into(),
        _ => format!("rust/{service}.wasm"),
    }
}

/// Everything the services can observe or change, shared by all instances.
#[derive(Debug, Default)]
pub struct World {
    pub kv: BTreeMap<(String, Vec<u8>), Vec<u8>>,
    pub cache: BTreeMap<(String, Vec<u8>), Vec<u8>>,
    /// `(channel, message)` in publication order.
    pub published: Vec<(String, String)>,
    /// `(service, level, line)`.
    pub logs: Vec<(String, i32, String)>,
    /// Stores, caches, channels or services whose every operation answers -3 (unavailable).
    pub unavailable: BTreeSet<String>,
    pub random_state: u64,
}

impl World {
    #[must_use]
    pub fn kv_text(&self, store: &str, key: &str) -> Option<String> {
        self.kv
            .get(&(store.to_owned(), key.as_bytes().to_vec()))
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

struct Ctx {
    service: String,
    world: Rc<RefCell<World>>,
    shop: Rc<RefCell<BTreeMap<String, Rc<RefCell<Guest>>>>>,
}

/// One instance of one service.
pub struct Guest {
    store: Store<Ctx>,
    instance: Instance,
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    /// Fuel the last request burnt in this module (not counting its callees).
    pub fuel_used_last: u64,
}

impl std::fmt::Debug for Guest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guest").field("service", &self.store.data().service).finish()
    }
}

/// How a request can go wrong at the ABI level: a guest fault, never an application error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault(pub String);

fn fault(e: impl std::fmt::Display) -> Fault {
    Fault(e.to_string())
}

impl Guest {
    /// Runs one request and returns the response text, checked to be UTF-8 JSON.
    ///
    /// # Errors
    /// A trap, running out of fuel, a response outside memory or not UTF-8 JSON.
    pub fn request(&mut self, endpoint: &str, body: &str) -> Result<String, Fault> {
        let fuel = FUEL_PER_REQUEST;
        self.store.set_fuel(fuel).map_err(fault)?;
        let len = i32::try_from(body.len()).map_err(fault)?;
        // As the simulator's host: an empty request gets (0, 0) without `alloc`.
        let ptr =
            if len == 0 { 0 } else { self.alloc.call(&mut self.store, len).map_err(fault)? };
        if ptr == 0 && len > 0 {
            return Err(Fault("alloc returned 0".into()));
        }
        self.memory.write(&mut self.store, addr(ptr), body.as_bytes()).map_err(fault)?;
        let handle = self
            .instance
            .get_typed_func::<(i32, i32), i64>(&self.store, &format!("handle_{endpoint}"))
            .map_err(fault)?;
        let packed = handle.call(&mut self.store, (ptr, len)).map_err(fault)?;
        self.fuel_used_last = fuel - self.store.get_fuel().map_err(fault)?;
        let (ptr, len) = unpack(packed);
        let mut out = vec![0; len];
        self.memory.read(&self.store, ptr, &mut out).map_err(fault)?;
        let text = String::from_utf8(out).map_err(fault)?;
        serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| Fault(format!("response is not JSON ({e}): {text}")))?;
        Ok(text)
    }

    /// The instance's current memory size in 64 KiB pages.
    #[must_use]
    pub fn memory_pages(&self) -> u64 {
        self.memory.size(&self.store)
    }
}

fn addr(ptr: i32) -> usize {
    usize::try_from(ptr.cast_unsigned()).unwrap_or(usize::MAX)
}

fn unpack(packed: i64) -> (usize, usize) {
    let bits = packed.cast_unsigned();
    (addr((bits >> 32) as u32 as i32), addr(bits as u32 as i32))
}

/// The whole shop: one instance per service over one [`World`].
pub struct Shop {
    pub world: Rc<RefCell<World>>,
    guests: Rc<RefCell<BTreeMap<String, Rc<RefCell<Guest>>>>>,
}

impl std::fmt::Debug for Shop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop").field("world", &self.world).finish_non_exhaustive()
    }
}

/// The engine every test uses: fuel metering and eager compilation, as the product host.
#[must_use]
pub fn engine() -> Engine {
    let mut config = Config::default();
    config.consume_fuel(true).compilation_mode(CompilationMode::Eager);
    Engine::new(&config)
}

/// Reads and compiles a committed module.
///
/// # Errors
/// The file is missing or the module does not validate.
pub fn load_module(engine: &Engine, relative: &str) -> Result<Module, Fault> {
    let bytes = std::fs::read(modules_dir().join(relative))
        .map_err(|e| Fault(format!("{relative}: {e}")))?;
    Module::new(engine, bytes).map_err(|e| Fault(format!("{relative}: {e}")))
}

impl Shop {
    /// Instantiates the six services of `flavour`.
    ///
    /// # Errors
    /// A module is missing, invalid, or imports something this host does not provide.
    pub fn new(flavour: Flavour) -> Result<Self, Fault> {
        let engine = engine();
        let linker = linker(&engine).map_err(fault)?;
        let world = Rc::new(RefCell::new(World::default()));
        let guests = Rc::new(RefCell::new(BTreeMap::new()));
        for service in SERVICES {
            let module = load_module(&engine, &module_path(service, flavour))?;
            let ctx = Ctx { service: service.into(), world: world.clone(), shop: guests.clone() };
            let mut store = Store::new(&engine, ctx);
            store.set_fuel(FUEL_PER_REQUEST).map_err(fault)?;
            let instance = linker.instantiate_and_start(&mut store, &module).map_err(fault)?;
            let memory = instance
                .get_memory(&store, "memory")
                .ok_or_else(|| Fault(format!("{service}: no memory export")))?;
            let alloc = instance.get_typed_func::<i32, i32>(&store, "alloc").map_err(fault)?;
            let guest = Guest { store, instance, memory, alloc, fuel_used_last: 0 };
            guests.borrow_mut().insert(service.to_owned(), Rc::new(RefCell::new(guest)));
        }
        Ok(Self { world, guests })
    }

    /// Sends one request to `service.endpoint`.
    ///
    /// # Errors
    /// A guest fault.
    pub fn request(&self, service: &str, endpoint: &str, body: &str) -> Result<String, Fault> {
        self.guest(service).borrow_mut().request(endpoint, body)
    }

    /// The instance of `service`.
    ///
    /// # Panics
    /// If `service` is not one of [`SERVICES`] (a bug in the test).
    #[must_use]
    pub fn guest(&self, service: &str) -> Rc<RefCell<Guest>> {
        self.guests.borrow().get(service).cloned().unwrap_or_else(|| panic!("no {service}"))
    }

    /// Delivers every message published so far on `channel` (from index `from`) to
    /// `service.endpoint`, as a broker would; returns the acknowledgements.
    ///
    /// # Errors
    /// A guest fault.
    pub fn deliver(
        &self,
        channel: &str,
        from: usize,
        service: &str,
        endpoint: &str,
    ) -> Result<Vec<String>, Fault> {
        let messages: Vec<String> = self
            .world
            .borrow()
            .published
            .iter()
            .filter(|(c, _)| c == channel)
            .skip(from)
            .map(|(_, m)| m.clone())
            .collect();
        messages.iter().map(|m| self.request(service, endpoint, m)).collect()
    }
}

fn read_bytes(caller: &Caller<'_, Ctx>, ptr: i32, len: i32) -> Result<Vec<u8>, Error> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Err(Error::new("guest exports no memory"));
    };
    let len = usize::try_from(len).map_err(|_| Error::new("negative length"))?;
    let mut out = vec![0; len];
    memory.read(caller, addr(ptr), &mut out).map_err(|e| Error::new(e.to_string()))?;
    Ok(out)
}

fn read_text(caller: &Caller<'_, Ctx>, ptr: i32, len: i32) -> Result<String, Error> {
    String::from_utf8(read_bytes(caller, ptr, len)?).map_err(|_| Error::new("name is not UTF-8"))
}

/// Copies `bytes` into a fresh guest buffer from its `alloc`; returns `(ptr << 32) | len`.
/// As the simulator's host, an empty value is `0` (ptr 0, len 0) without `alloc`.
fn give(caller: &mut Caller<'_, Ctx>, bytes: &[u8]) -> Result<i64, Error> {
    if bytes.is_empty() {
        return Ok(0);
    }
    let (Some(Extern::Func(alloc)), Some(Extern::Memory(memory))) =
        (caller.get_export("alloc"), caller.get_export("memory"))
    else {
        return Err(Error::new("guest exports no alloc/memory"));
    };
    let len = i32::try_from(bytes.len()).map_err(|_| Error::new("reply too large"))?;
    let ptr = alloc.typed::<i32, i32>(&*caller)?.call(&mut *caller, len)?;
    memory.write(&mut *caller, addr(ptr), bytes).map_err(|e| Error::new(e.to_string()))?;
    Ok((i64::from(ptr.cast_unsigned()) << 32) | i64::from(len.cast_unsigned()))
}

const UNAVAILABLE: i64 = -3;
const NOT_FOUND: i64 = -1;

type Table = fn(&mut World) -> &mut BTreeMap<(String, Vec<u8>), Vec<u8>>;

fn get(
    caller: &mut Caller<'_, Ctx>,
    table: Table,
    name: (i32, i32),
    key: (i32, i32),
) -> Result<i64, Error> {
    let name = read_text(caller, name.0, name.1)?;
    let key = read_bytes(caller, key.0, key.1)?;
    let world = caller.data().world.clone();
    let value = {
        let mut world = world.borrow_mut();
        if world.unavailable.contains(&name) {
            return Ok(UNAVAILABLE);
        }
        table(&mut world).get(&(name, key)).cloned()
    };
    match value {
        Some(value) => give(caller, &value),
        None => Ok(NOT_FOUND),
    }
}

fn put(
    caller: &mut Caller<'_, Ctx>,
    table: Table,
    name: (i32, i32),
    key: (i32, i32),
    value: (i32, i32),
) -> Result<i32, Error> {
    let name = read_text(caller, name.0, name.1)?;
    let key = read_bytes(caller, key.0, key.1)?;
    let value = read_bytes(caller, value.0, value.1)?;
    let mut world = caller.data().world.borrow_mut();
    if world.unavailable.contains(&name) {
        return Ok(-3);
    }
    table(&mut world).insert((name, key), value);
    Ok(0)
}

fn kv_table(w: &mut World) -> &mut BTreeMap<(String, Vec<u8>), Vec<u8>> {
    &mut w.kv
}

fn cache_table(w: &mut World) -> &mut BTreeMap<(String, Vec<u8>), Vec<u8>> {
    &mut w.cache
}

fn linker(engine: &Engine) -> Result<Linker<Ctx>, wasmi::errors::LinkerError> {
    let mut linker = Linker::new(engine);
    linker.func_wrap(
        "fusebench",
        "kv_get",
        |mut c: Caller<'_, Ctx>, s: i32, sl: i32, k: i32, kl: i32| {
            get(&mut c, kv_table, (s, sl), (k, kl))
        },
    )?;
    linker.func_wrap(
        "fusebench",
        "kv_put",
        |mut c: Caller<'_, Ctx>, s: i32, sl: i32, k: i32, kl: i32, v: i32, vl: i32| {
            put(&mut c, kv_table, (s, sl), (k, kl), (v, vl))
        },
    )?;
    linker.func_wrap(
        "fusebench",
        "kv_delete",
        |c: Caller<'_, Ctx>, s: i32, sl: i32, k: i32, kl: i32| {
            let name = read_text(&c, s, sl)?;
            let key = read_bytes(&c, k, kl)?;
            let mut world = c.data().world.borrow_mut();
            if world.unavailable.contains(&name) {
                return Ok(-3);
            }
            Ok(if world.kv.remove(&(name, key)).is_some() { 0 } else { -1 })
        },
    )?;
    linker.func_wrap(
        "fusebench",
        "cache_get",
        |mut c: Caller<'_, Ctx>, s: i32, sl: i32, k: i32, kl: i32| {
            get(&mut c, cache_table, (s, sl), (k, kl))
        },
    )?;
    linker.func_wrap(
        "fusebench",
        "cache_put",
        |mut c: Caller<'_, Ctx>, s: i32, sl: i32, k: i32, kl: i32, v: i32, vl: i32| {
            put(&mut c, cache_table, (s, sl), (k, kl), (v, vl))
        },
    )?;
    linker.func_wrap(
        "fusebench",
        "publish",
        |c: Caller<'_, Ctx>, ch: i32, chl: i32, m: i32, ml: i32| {
            let channel = read_text(&c, ch, chl)?;
            let message = String::from_utf8(read_bytes(&c, m, ml)?)
                .map_err(|_| Error::new("message is not UTF-8"))?;
            serde_json::from_str::<serde_json::Value>(&message)
                .map_err(|e| Error::new(format!("published message is not JSON: {e}")))?;
            let mut world = c.data().world.borrow_mut();
            if world.unavailable.contains(&channel) {
                return Ok(-3);
            }
            world.published.push((channel, message));
            Ok(0)
        },
    )?;
    linker.func_wrap(
        "fusebench",
        "call",
        |mut c: Caller<'_, Ctx>, s: i32, sl: i32, e: i32, el: i32, r: i32, rl: i32| {
            let service = read_text(&c, s, sl)?;
            let endpoint = read_text(&c, e, el)?;
            let request = String::from_utf8(read_bytes(&c, r, rl)?)
                .map_err(|_| Error::new("request is not UTF-8"))?;
            if c.data().world.borrow().unavailable.contains(&service) {
                return Ok(UNAVAILABLE);
            }
            let Some(callee) = c.data().shop.borrow().get(&service).cloned() else {
                return Ok(-4);
            };
            // A callee fault is, for the caller, an unavailable service.
            let reply = callee.borrow_mut().request(&endpoint, &request);
            match reply {
                Ok(reply) => give(&mut c, reply.as_bytes()),
                Err(_) => Ok(UNAVAILABLE),
            }
        },
    )?;
    linker.func_wrap("fusebench", "log", |c: Caller<'_, Ctx>, level: i32, m: i32, ml: i32| {
        let line = read_text(&c, m, ml)?;
        let service = c.data().service.clone();
        c.data().world.borrow_mut().logs.push((service, level, line));
        Ok(())
    })?;
    linker.func_wrap("fusebench", "now", || 0_i64)?;
    linker.func_wrap("fusebench", "random", |c: Caller<'_, Ctx>| {
        let mut world = c.data().world.borrow_mut();
        world.random_state = world.random_state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        world.random_state.cast_signed()
    })?;
    Ok(linker)
}
