//! Hostile input: nothing may panic, whatever the bytes.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use sagestack_template::*;
use support::*;

/// Runs every stage a server would run on an untrusted body.
fn exercise(body: &str) {
    let Ok(t) = Template::parse_with(body, &Limits::inline().max(body.len())) else {
        return;
    };
    let _ = t.validate();
    let params = synthesise_all(&t);
    if let Ok(b) = t.bind(&params, &StackContext::example(), Arc::new(FakeEnv)) {
        for r in b.resources() {
            let _ = b.resolve_properties(&r.logical_id, &FakeLookup);
        }
        let _ = b.resolve_outputs(&FakeLookup);
        let _ = b.imports();
    }
    let _ = t.bind(
        &BTreeMap::new(),
        &StackContext::example(),
        Arc::new(EmptyEnvironment),
    );
}

trait Widen {
    fn max(self, n: usize) -> Self;
}
impl Widen for Limits {
    fn max(mut self, n: usize) -> Self {
        self.max_bytes = self.max_bytes.max(n);
        self
    }
}

/// Fragments that steer random input towards template-shaped text.
const TOKENS: &[&str] = &[
    "Resources:\n",
    "  R:\n",
    "    Type: A::B::C\n",
    "    Properties:\n",
    "      P: ",
    "!Ref R",
    "!GetAtt R.Arn",
    "!Sub '${R}'",
    "!If [C, a, b]",
    "!Select [9, []]",
    "!Cidr [10.0.0.0/8, 300, 40]",
    "!Split [',', x]",
    "!FindInMap [M, a, b]",
    "&a ",
    "*a",
    "[",
    "]",
    "{",
    "}",
    ": ",
    ", ",
    "- ",
    "\n",
    "  ",
    "'",
    "\"",
    "~",
    "!Join ['', [a, !Ref B]]",
    "Conditions:\n  C: !Equals [a, a]\n",
    "Parameters:\n  P: {Type: Number, MinValue: 1}\n",
    "Fn::ForEach::L: [X, [a, b], {'R${X}': {Type: T}}]\n",
    "Transform: AWS::LanguageExtensions\n",
    "{\"Ref\": \"R\"}",
    "DependsOn: R\n",
    "Outputs:\n  O: {Value: !Ref R}\n",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,400}") {
        exercise(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        exercise(&String::from_utf8_lossy(&b));
    }

    #[test]
    fn template_shaped_text_never_panics(parts in proptest::collection::vec(0..TOKENS.len(), 0..60)) {
        let s: String = parts.iter().map(|&i| TOKENS[i]).collect();
        exercise(&s);
    }
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(body: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = body.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = b.len().max(1);
        match rng.below(5) {
            0 => {
                let i = rng.below(len);
                if i < b.len() {
                    b[i] = rng.next() as u8;
                }
            }
            1 => {
                let i = rng.below(len);
                let j = (i + rng.below(64)).min(b.len());
                if i < j {
                    b.drain(i..j);
                }
            }
            2 => {
                let i = rng.below(len).min(b.len());
                let j = (i + rng.below(64)).min(b.len());
                let chunk = b[i..j].to_vec();
                let at = rng.below(len).min(b.len());
                b.splice(at..at, chunk);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let at = rng.below(len).min(b.len());
                b.splice(at..at, t.iter().copied());
            }
            _ => {
                let i = rng.below(len);
                if i < b.len() {
                    b[i] = b"{}[]:,-!&*'\"\n #"[rng.below(15)];
                }
            }
        }
    }
    b
}

#[test]
fn mutated_corpus_templates_never_panic() {
    let Some(root) = corpus_dir() else { return };
    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    let mut runs = 0;
    for path in template_files(&root) {
        let body = std::fs::read(&path).unwrap();
        for _ in 0..8 {
            let m = mutate(&body, &mut rng);
            exercise(&String::from_utf8_lossy(&m));
            runs += 1;
        }
    }
    println!("fuzzed {runs} mutated templates");
    assert!(runs > 1000);
}

#[test]
fn pathological_inputs_are_bounded() {
    // Deep nesting, alias bombs, huge ForEach, long chains: errors, not crashes.
    exercise(&"[".repeat(200_000));
    exercise(&format!("a: {}", "{a: ".repeat(10_000)));
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12u8 {
        let (p, c) = ((b'a' + i - 1) as char, (b'a' + i) as char);
        bomb.push_str(&format!(
            "{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        ));
    }
    assert_eq!(Template::parse(&bomb).unwrap_err().code, ErrorCode::Limit);
    let items: Vec<String> = (0..1000).map(|i| format!("i{i}")).collect();
    let foreach = format!(
        "Transform: AWS::LanguageExtensions\nResources:\n  Fn::ForEach::A:\n    - X\n    - [{l}]\n    - Fn::ForEach::B:\n        - Y\n        - [{l}]\n        - 'R${{X}}${{Y}}': {{Type: A::B::C, Properties: {{P: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}}}}\n",
        l = items.join(", ")
    );
    // A long chain of conditions naming conditions, and a mapping that looks recursive.
    // Listed so that evaluating the first one recurses through all the others.
    let mut chain = String::from("Conditions:\n");
    for i in 0..5_000 {
        chain.push_str(&format!("  C{i}: !Not [!Condition C{}]\n", i + 1));
    }
    chain.push_str("  C5000: !Equals [a, a]\n");
    chain.push_str("Mappings:\n  M: {a: {b: !FindInMap [M, a, b]}}\nResources:\n  R: {Type: A::B::C, Condition: C4999, Properties: {P: !FindInMap [M, a, b]}}\n");
    exercise(&chain);
    let e = Template::parse(&chain)
        .unwrap()
        .bind(
            &BTreeMap::new(),
            &StackContext::example(),
            Arc::new(EmptyEnvironment),
        )
        .unwrap_err();
    assert!(e.iter().any(|e| e.code == ErrorCode::Limit), "{e:?}");
    // Intrinsics nested as deep as the parser allows.
    let deep = format!(
        "Resources:\n  R:\n    Type: A::B::C\n    Properties:\n      P: {}x{}\n",
        "{'Fn::Base64': ".repeat(125),
        "}".repeat(125)
    );
    exercise(&deep);
    let deep_if = format!(
        "Conditions:\n  C: !Equals [a, a]\nResources:\n  R:\n    Type: A::B::C\n    Properties:\n      P: {}x{}\n",
        "{'Fn::If': [C, ".repeat(60),
        ", y]}".repeat(60)
    );
    exercise(&deep_if);
    let t = Template::parse(&foreach).unwrap();
    let e = t.validate().unwrap_err();
    assert!(
        e.iter()
            .any(|e| e.code == ErrorCode::Limit || e.message.contains("Number of resources")),
        "{e:?}"
    );
}
