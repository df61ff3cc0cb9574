//! Interface compatibility between caller and callee (seed §2.2, I_s = (API, Contract, Version)).
//!
//! Versions follow semver: the caller's requirement (`call.version`, e.g. `^1.2`) must match the
//! callee endpoint's version; a caller without one (`*`) fits every version, pre-releases too.
//! Contracts: every field the callee requires in a request must be in what the caller sends,
//! and every response field the caller uses must be one the callee always provides (declared
//! and required).

use super::Findings;
use crate::contract::FieldType;
use crate::scenario::{Call, Endpoint};

pub(super) const VERSION_ID: &str = "contract-version";
pub(super) const FIELDS_ID: &str = "contract-fields";

pub(super) fn check(f: &mut Findings<'_>) {
    let s = f.s;
    for svc in &s.services {
        for call in &svc.calls {
            let Some(callee) = s.service(&call.service.name) else { continue };
            let Some(ep) = callee.endpoint(&call.endpoint.name) else { continue };
            for p in call_problems(&svc.name, call, &callee.name, ep) {
                let id = match p.kind {
                    Kind::Version => VERSION_ID,
                    Kind::Fields => FIELDS_ID,
                };
                f.error(id, call.span, p.message).hint = p.hint;
            }
        }
    }
}

/// Whether a callee at `version` fits a caller's requirement. `*` — the default, a caller
/// that states no requirement — is none: every version fits, a pre-release too (semver's
/// `*` itself matches no pre-release, which would blame a caller for a requirement it never
/// wrote). Any other requirement is semver's (Cargo's): a pre-release fits only a requirement
/// with a comparator naming a pre-release of the same major.minor.patch.
fn version_fits(req: &semver::VersionReq, version: &semver::Version) -> bool {
    req.comparators.is_empty() || req.matches(version)
}

/// Which rule a call breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Version,
    Fields,
}

/// One way a call does not fit the endpoint it calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Problem {
    pub(super) kind: Kind,
    pub(super) message: String,
    pub(super) hint: Option<String>,
}

/// Every way `caller`'s `call` does not fit endpoint `ep` of `callee`: the one rule, applied
/// to the declared endpoints here and to a rollout's changed ones (`rollout.rs`).
pub(super) fn call_problems(
    caller: &str,
    call: &Call,
    callee: &str,
    ep: &Endpoint,
) -> Vec<Problem> {
    let mut out = Vec::new();
    let target = format!("{callee}.{}", ep.name);
    if !version_fits(&call.version, &ep.version) {
        let v = &ep.version;
        let (message, hint) = if v.pre.is_empty() {
            (
                format!("`{caller}` requires {target} version {}, but it is {v}", call.version),
                "update the caller's requirement, or keep a compatible endpoint version".to_owned(),
            )
        } else {
            let release = semver::Version::new(v.major, v.minor, v.patch);
            (
                format!(
                    "`{caller}` requires {target} version {}, but it is {v}, a pre-release: a pre-release matches only a requirement naming a pre-release of {release} (semver)",
                    call.version
                ),
                format!(
                    "require the pre-release explicitly (`^{v}`), or call a released version of {target}"
                ),
            )
        };
        out.push(Problem { kind: Kind::Version, message, hint: Some(hint) });
    }
    for required in ep.request.required() {
        if !call.sends.iter().any(|x| x == required) {
            out.push(Problem {
                kind: Kind::Fields,
                message: format!(
                    "`{caller}` calls {target} without required request field `{required}`"
                ),
                hint: Some(format!(
                    "add \"{required}\" to `sends`, or make it optional in {target}'s request contract"
                )),
            });
        }
    }
    for used in &call.uses {
        let message = match ep.response.fields.get(used) {
            Some(field) if field.required => continue,
            Some(_) => format!(
                "`{caller}` relies on response field `{used}` of {target}, which the callee does not always provide (optional)"
            ),
            None => format!(
                "`{caller}` relies on response field `{used}` of {target}, which its contract does not provide"
            ),
        };
        out.push(Problem { kind: Kind::Fields, message, hint: None });
    }
    out
}

/// Every way an endpoint changing from `old` to `new` (a rollout's) breaks `caller`'s `call`
/// through its fields' types, beyond what [`call_problems`] finds on `new` alone: the caller
/// was written against `old`'s types, which a call does not restate. A field it sends must
/// still take what it sends (the new request type admits the old one); a field it uses must
/// still hold what it reads (the old response type admits the new one). A field it neither
/// sends nor uses may change freely, and a field that appears or disappears is
/// `call_problems`' business (required, provided).
pub(super) fn change_problems(
    caller: &str,
    call: &Call,
    callee: &str,
    old: &Endpoint,
    new: &Endpoint,
) -> Vec<Problem> {
    let mut out = Vec::new();
    let target = format!("{callee}.{}", new.name);
    for sent in &call.sends {
        let (Some(was), Some(now)) = (old.request.fields.get(sent), new.request.fields.get(sent))
        else {
            continue;
        };
        if !now.ty.admits(&was.ty) {
            out.push(Problem {
                kind: Kind::Fields,
                message: format!(
                    "`{caller}` sends request field `{sent}` of {target} as {}, but the new contract takes {}",
                    shown(&was.ty),
                    shown(&now.ty)
                ),
                hint: Some(format!(
                    "keep `{sent}`'s type in the new request contract (or one that admits the old, e.g. `number` for `integer`), or update `{caller}` first"
                )),
            });
        }
    }
    for used in &call.uses {
        let (Some(was), Some(now)) = (old.response.fields.get(used), new.response.fields.get(used))
        else {
            continue;
        };
        if !was.ty.admits(&now.ty) {
            out.push(Problem {
                kind: Kind::Fields,
                message: format!(
                    "`{caller}` relies on response field `{used}` of {target} as {}, but the new contract makes it {}",
                    shown(&was.ty),
                    shown(&now.ty)
                ),
                hint: Some(format!(
                    "keep `{used}`'s type in the new response contract (or a narrower one, e.g. `integer` for `number`), or update `{caller}` first"
                )),
            });
        }
    }
    out
}

/// A field's type in a message: its name, or an object's shape written out.
fn shown(ty: &FieldType) -> String {
    match ty {
        FieldType::Object(shape) => {
            let fields: Vec<String> = shape
                .fields
                .iter()
                .map(|(n, f)| format!("{n}{}: {}", if f.required { "" } else { "?" }, shown(&f.ty)))
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
        FieldType::Array(inner) if matches!(**inner, FieldType::Object(_)) => {
            format!("{}[]", shown(inner))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use crate::checks::fixture::findings;

    /// `orders` calls `payments.get`, at `version`, with `call_version` (a line, or nothing).
    fn design(version: &str, call_version: &str) -> String {
        format!(
            r#"
[system]
name = "v"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[[channel]]
name = "rest"
kind = "rest"
[[service]]
name = "orders"
context = "c"
node = "n"
service_time = {{ distribution = {{ dist = "constant", ms = 1.0 }} }}
  [[service.endpoint]]
  name = "go"
  [[service.call]]
  service = "payments"
  endpoint = "get"
  channel = "rest"
  {call_version}
[[service]]
name = "payments"
context = "c"
node = "n"
service_time = {{ distribution = {{ dist = "constant", ms = 1.0 }} }}
  [[service.endpoint]]
  name = "get"
  version = "{version}"
"#
        )
    }

    fn version_messages(version: &str, call_version: &str) -> Vec<String> {
        findings(&design(version, call_version), super::VERSION_ID)
            .into_iter()
            .map(|d| d.message)
            .collect()
    }

    /// A caller that states no requirement (the default `*`) fits any callee version, a
    /// pre-release too; so does one that writes `*` itself.
    #[test]
    fn no_requirement_fits_a_pre_release() {
        for call_version in ["", "version = \"*\""] {
            for version in ["3.0.0-beta.1", "0.1.0-alpha", "2.0.0"] {
                assert_eq!(version_messages(version, call_version), Vec::<String>::new());
            }
        }
    }

    /// A stated requirement is semver's: `^1.2` does not match `1.8.0-rc.1` (a pre-release
    /// matches only a requirement naming a pre-release of 1.8.0), and the message says why.
    #[test]
    fn a_stated_requirement_misses_a_pre_release_and_says_why() {
        let m = version_messages("1.8.0-rc.1", "version = \"^1.2\"");
        assert_eq!(
            m,
            ["`orders` requires payments.get version ^1.2, but it is 1.8.0-rc.1, a pre-release: \
              a pre-release matches only a requirement naming a pre-release of 1.8.0 (semver)"]
        );
        assert_eq!(
            version_messages("1.8.0-rc.1", "version = \"^1.8.0-rc.1\""),
            Vec::<String>::new()
        );
        assert_eq!(version_messages("1.8.0", "version = \"^1.2\""), Vec::<String>::new());
        assert_eq!(
            version_messages("2.0.0", "version = \"^1.2\""),
            ["`orders` requires payments.get version ^1.2, but it is 2.0.0"]
        );
    }
}
