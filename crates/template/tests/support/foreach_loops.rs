// The nested `Fn::ForEach` template generator, one copy for two kinds of test: the unit
// tests of `src/foreach.rs` (which measure allocation with the crate's test-only
// allocator, so cannot move out) and `tests/bounded_work.rs` both `include!` this file,
// as neither can import the other's code. Plain comments: an included file takes no
// inner doc comment.

/// Nested `Fn::ForEach` loops (`levels` deep) of `items` items each, around one resource
/// whose property is a `payload`-byte string followed by `suffix` (e.g. `${L0}`, so
/// that each copy's value differs).
fn loops_with(levels: usize, items: usize, payload: usize, suffix: &str) -> String {
    let list = (0..items)
        .map(|i| format!("i{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let key: String = (0..levels).map(|l| format!("${{L{l}}}")).collect();
    let mut body = format!(
        "{{'R{key}': {{Type: A::B::C, Properties: {{P: '{}{suffix}'}}}}}}",
        "p".repeat(payload)
    );
    for l in (0..levels).rev() {
        body = format!("{{'Fn::ForEach::F{l}': [L{l}, [{list}], {body}]}}");
    }
    format!("Transform: AWS::LanguageExtensions\nResources: {body}\n")
}
