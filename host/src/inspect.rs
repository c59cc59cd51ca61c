//! `wasiclaw inspect`: what the guest asks for (imports), what it offers
//! (exports), and what the host will actually grant it (the policy).

use serde_json::{json, Value};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::Component;
use wasmtime::Engine;

use crate::policy::Policy;
use crate::runtime::GuestModule;

fn kind(item: &ComponentItem) -> &'static str {
    match item {
        ComponentItem::ComponentFunc(_) => "func",
        ComponentItem::CoreFunc(_) => "core-func",
        ComponentItem::Module(_) => "module",
        ComponentItem::Component(_) => "component",
        ComponentItem::ComponentInstance(_) => "instance",
        ComponentItem::Type(_) => "type",
        ComponentItem::Resource(_) => "resource",
    }
}

pub fn describe(
    engine: &Engine,
    component: &Component,
    module: &GuestModule,
    policy: &Policy,
) -> Value {
    let ty = component.component_type();
    let list = |items: Vec<(&str, ComponentItem)>| -> Vec<Value> {
        items
            .into_iter()
            .map(|(name, item)| json!({"name": name, "kind": kind(&item)}))
            .collect()
    };
    json!({
        "module": module.origin,
        "size_bytes": module.bytes.len(),
        "imports": list(ty.imports(engine).map(|(n, e)| (n, e.ty)).collect()),
        "exports": list(ty.exports(engine).map(|(n, e)| (n, e.ty)).collect()),
        "policy": policy.to_json(),
    })
}
