//! The hostile guests of `scenarios/flawed/sandbox/`: each is contained with the right cause,
//! a well-behaved service in the same runtime keeps answering, and 10,000 hostile invocations in
//! a row leave no instance behind.

use fusebench_model::Capability;
use fusebench_sim::runtime::fake::{CountingRandom, ECHO_WAT};
use fusebench_sim::runtime::{
    GuestFault, HostContext, InstancePooling, LOG_LINES_PER_INVOCATION_MAX, LogLine, Phase,
    Runtime, ServiceConfig, ServiceHost, Slice, SliceOutcome, TrapKind,
};

/// Checks that a hostile invocation ended as its case expects.
type Expect = fn(&Slice);

/// A hostile module, the grants it needs and what containing it looks like.
struct Case {
    name: &'static str,
    wat: &'static str,
    capabilities: &'static [Capability],
    expect: Expect,
}

macro_rules! case {
    ($name:literal, $caps:expr, $expect:expr) => {
        Case {
            name: $name,
            wat: include_str!(concat!("../../scenarios/flawed/sandbox/", $name, ".wat")),
            capabilities: $caps,
            expect: $expect,
        }
    };
}

const FUEL: u64 = 50_000;
const MEMORY_BYTES_MAX: usize = 1 << 20;

fn fault(slice: &Slice) -> (&GuestFault, Phase) {
    match &slice.outcome {
        SliceOutcome::Failed(f) => (&f.cause, f.phase),
        other => panic!("expected a fault, got {other:?}"),
    }
}

fn trap(slice: &Slice, expected: TrapKind) {
    let (cause, phase) = fault(slice);
    assert!(matches!(cause, GuestFault::Trap { kind, .. } if *kind == expected), "{cause}");
    assert_eq!(phase, Phase::Handler);
}

fn cases() -> Vec<Case> {
    vec![
        case!("unreachable", &[], |s| trap(s, TrapKind::Unreachable)),
        case!("out_of_bounds", &[], |s| {
            let (cause, _) = fault(s);
            assert_eq!(
                cause,
                &GuestFault::Trap { kind: TrapKind::MemoryOutOfBounds, grow_refused: None }
            );
        }),
        case!("infinite_loop", &[], |s| {
            assert_eq!(fault(s).0, &GuestFault::FuelExhausted { budget: FUEL });
            assert_eq!(s.fuel_used, FUEL);
        }),
        case!("memory_grow_bomb", &[], |s| {
            let (cause, _) = fault(s);
            let GuestFault::Trap { kind, grow_refused: Some(refused) } = cause else {
                panic!("expected a trap after a refused grow, got {cause}");
            };
            assert_eq!(*kind, TrapKind::MemoryOutOfBounds);
            assert_eq!(refused.limit_bytes, MEMORY_BYTES_MAX);
            assert_eq!(refused.desired_bytes, MEMORY_BYTES_MAX + 65_536);
            assert!(cause.to_string().contains("refused"), "{cause}");
        }),
        case!("stack_overflow", &[], |s| trap(s, TrapKind::StackOverflow)),
        case!("response_out_of_bounds", &[], |s| {
            let (cause, phase) = fault(s);
            assert_eq!(
                cause,
                &GuestFault::ResponseOutOfBounds {
                    ptr: 0xffff_0000,
                    len: 4096,
                    memory_bytes: 65_536
                }
            );
            assert_eq!(phase, Phase::ReadResponse);
        }),
        case!("response_not_utf8", &[], |s| {
            assert_eq!(fault(s).0, &GuestFault::ResponseNotUtf8 { valid_up_to: 1 });
        }),
        case!("response_not_json", &[], |s| {
            assert!(matches!(fault(s).0, GuestFault::ResponseNotJson { .. }));
        }),
        case!("proc_exit", &[Capability::Wasi], |s| {
            assert_eq!(fault(s).0, &GuestFault::ProcExit { code: 3 });
        }),
        case!("env_abort", &[], |s| {
            let expected = GuestFault::Abort {
                message: Some("boom!".into()),
                file: Some("svc.ts".into()),
                line: 12,
                column: 5,
            };
            assert_eq!(fault(s).0, &expected);
            assert_eq!(expected.to_string(), "abort: boom! at svc.ts:12:5");
        }),
        case!("bad_alloc", &[], |s| {
            let (cause, phase) = fault(s);
            assert!(matches!(cause, GuestFault::BadAlloc { ptr: 0, .. }), "{cause}");
            assert_eq!(phase, Phase::WriteRequest);
        }),
        case!("log_flood", &[Capability::Log], |s| match &s.outcome {
            SliceOutcome::Done(r) => {
                assert_eq!(r.json["ok"], true);
                assert_eq!(r.report.log_lines_dropped, 3_000 - LOG_LINES_PER_INVOCATION_MAX);
            }
            other => panic!("a log flood is contained without a fault, got {other:?}"),
        }),
    ]
}

fn hostile_config(name: &str, case: &Case, policy: InstancePooling) -> ServiceConfig {
    let mut c = ServiceConfig::new(name);
    c.capabilities = case.capabilities.iter().copied().collect();
    c.endpoints.insert("run".into());
    c.limits.fuel_per_invocation = FUEL;
    c.limits.memory_bytes_max = MEMORY_BYTES_MAX;
    c.policy = policy;
    c
}

/// One runtime holding every hostile service (in both policies) and a well-behaved echo.
fn runtime() -> (Runtime, Vec<(String, Expect)>) {
    let mut rt = Runtime::default();
    let mut echo = ServiceConfig::new("echo");
    echo.endpoints.insert("echo".into());
    echo.policy = InstancePooling::Pooled { idle_max: 1 };
    rt.load_service(&echo, ECHO_WAT.as_bytes()).expect("echo loads");
    let mut services = Vec::new();
    for case in cases() {
        for (suffix, policy) in [
            ("fresh", InstancePooling::PerRequest),
            ("pooled", InstancePooling::Pooled { idle_max: 1 }),
        ] {
            let name = format!("{}_{suffix}", case.name);
            let config = hostile_config(&name, &case, policy);
            if let Err(e) = rt.load_service(&config, case.wat.as_bytes()) {
                panic!("{name} must load: {e}");
            }
            services.push((name, case.expect));
        }
    }
    (rt, services)
}

fn run(rt: &mut Runtime, service: &str, endpoint: &str, logs: &mut Vec<LogLine>) -> Slice {
    let mut random = CountingRandom::default();
    let mut ctx = HostContext { now_nanos: 0, random: &mut random, log: logs };
    rt.start(service, endpoint, br#"{"x":1}"#, &mut ctx).expect("start")
}

fn echo_answers(rt: &mut Runtime) {
    let slice = run(rt, "echo", "echo", &mut Vec::new());
    match slice.outcome {
        SliceOutcome::Done(r) => assert_eq!(r.json["x"], 1),
        other => panic!("the well-behaved service must still answer, got {other:?}"),
    }
}

#[test]
fn every_hostile_guest_is_contained_with_its_cause_and_the_host_keeps_serving() {
    let (mut rt, services) = runtime();
    echo_answers(&mut rt);
    for (service, expect) in &services {
        let slice = run(&mut rt, service, "run", &mut Vec::new());
        expect(&slice);
        echo_answers(&mut rt);
        assert_eq!(rt.suspended_invocations(), 0, "{service}");
    }
    // Only pooled instances that ended well stay: the echo and the log flood's.
    assert_eq!(rt.live_instances(), 2);
    assert_eq!(rt.idle_instances("unreachable_pooled"), Some(0));
    assert_eq!(rt.idle_instances("log_flood_pooled"), Some(1));
}

#[test]
fn ten_thousand_hostile_invocations_leave_memory_bounded() {
    let (mut rt, services) = runtime();
    let mut logs = Vec::new();
    let mut live_max = 0;
    for i in 0..10_000 {
        let (service, expect) = &services[i % services.len()];
        let slice = run(&mut rt, service, "run", &mut logs);
        expect(&slice);
        logs.clear();
        live_max = live_max.max(rt.live_instances());
    }
    echo_answers(&mut rt);
    // Every faulting instance was freed with its store: at most the idle echo and the idle log
    // flood instance were ever alive between requests.
    assert!(live_max <= 2, "live instances peaked at {live_max}");
    assert_eq!(rt.suspended_invocations(), 0);
    for (service, _) in &services {
        let stats = rt.service_stats(service).expect("stats");
        let idle = rt.idle_instances(service).expect("idle") as u64;
        assert_eq!(
            stats.instances_created,
            stats.instances_discarded + stats.instances_retired + idle,
            "{service}: {stats:?}"
        );
        assert!(idle <= 1);
    }
}

/// wasmi's tail-call dispatch needs LLVM sibling calls, which debug assertions (on in the dev
/// profile) defeat: each executed branch then costs native stack and a long loop aborts the
/// whole process. The runtime therefore uses wasmi's portable loop dispatch; this guards it.
#[test]
fn a_long_running_guest_does_not_grow_the_native_stack() {
    let mut rt = Runtime::default();
    let case = cases().into_iter().find(|c| c.name == "infinite_loop").expect("case");
    let mut config = hostile_config("spin", &case, InstancePooling::PerRequest);
    config.limits.fuel_per_invocation = 5_000_000;
    rt.load_service(&config, case.wat.as_bytes()).expect("loads");
    let slice = run(&mut rt, "spin", "run", &mut Vec::new());
    assert_eq!(fault(&slice).0, &GuestFault::FuelExhausted { budget: 5_000_000 });
}
