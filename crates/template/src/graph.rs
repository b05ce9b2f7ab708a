//! References between template entries, dependency cycles and parallel levels.

use std::collections::HashMap;

use crate::eval::{SubPart, sub_parts};
use crate::tree::{Kind, Node, Pos};

/// How a node names another entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Ref,
    GetAtt,
    /// A `${Name}` or `${Resource.Attribute}` variable of `Fn::Sub`.
    Sub,
}

/// One reference found in a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub kind: RefKind,
    /// The parameter, pseudo parameter or resource named.
    pub name: String,
    /// For `GetAtt` (and `Sub` `${A.B}`), the attribute.
    pub attribute: Option<String>,
    pub pos: Pos,
}

/// Collects every reference in `node`. `branch` decides `Fn::If`: `Some(true/false)` walks
/// only the taken branch, `None` walks both (static validation).
pub fn references(node: &Node, out: &mut Vec<Reference>, branch: &dyn Fn(&str) -> Option<bool>) {
    match &node.kind {
        Kind::List(l) => l.iter().for_each(|n| references(n, out, branch)),
        Kind::Map(m) => {
            if let Some((name, arg)) = node.as_intrinsic() {
                match name {
                    "Ref" => {
                        if let Some(t) = arg.as_str() {
                            out.push(Reference {
                                kind: RefKind::Ref,
                                name: t.into(),
                                attribute: None,
                                pos: node.pos,
                            });
                        }
                        return;
                    }
                    "Fn::GetAtt" => {
                        let (r, a) = match &arg.kind {
                            Kind::String(s) => match s.split_once('.') {
                                Some((r, a)) => (Some(r.to_string()), Some(a.to_string())),
                                None => (Some(s.clone()), None),
                            },
                            Kind::List(l) => (
                                l.first().and_then(Node::as_str).map(String::from),
                                l.get(1).and_then(Node::as_str).map(String::from),
                            ),
                            _ => (None, None),
                        };
                        if let Some(r) = r {
                            out.push(Reference {
                                kind: RefKind::GetAtt,
                                name: r,
                                attribute: a,
                                pos: node.pos,
                            });
                        }
                        // The attribute name may itself be an intrinsic.
                        if let Some(l) = arg.as_list() {
                            l.iter().skip(1).for_each(|n| references(n, out, branch));
                        }
                        return;
                    }
                    "Fn::Sub" => {
                        let (text, vars) = match &arg.kind {
                            Kind::String(s) => (Some(s.as_str()), None),
                            Kind::List(l) => (
                                l.first().and_then(Node::as_str),
                                l.get(1).and_then(Node::as_map),
                            ),
                            _ => (None, None),
                        };
                        if let Some(text) = text {
                            for p in sub_parts(text) {
                                if let SubPart::Var(v) = p {
                                    if vars.is_some_and(|m| m.contains_key(&v)) {
                                        continue;
                                    }
                                    let (n, a) = match v.split_once('.') {
                                        Some((n, a)) if !v.starts_with("AWS::") => {
                                            (n.to_string(), Some(a.to_string()))
                                        }
                                        _ => (v.clone(), None),
                                    };
                                    out.push(Reference {
                                        kind: RefKind::Sub,
                                        name: n,
                                        attribute: a,
                                        pos: node.pos,
                                    });
                                }
                            }
                        }
                        if let Some(vars) = vars {
                            vars.values()
                                .for_each(|e| references(&e.value, out, branch));
                        }
                        return;
                    }
                    "Fn::If" => {
                        if let Some(l) = arg.as_list()
                            && l.len() == 3
                            && let Some(c) = l[0].as_str()
                        {
                            match branch(c) {
                                Some(true) => references(&l[1], out, branch),
                                Some(false) => references(&l[2], out, branch),
                                None => {
                                    references(&l[1], out, branch);
                                    references(&l[2], out, branch);
                                }
                            }
                            return;
                        }
                    }
                    _ => {}
                }
            }
            m.values().for_each(|e| references(&e.value, out, branch));
        }
        _ => {}
    }
}

/// Each id's position in `ids`: both graph walks below work on positions.
fn positions(ids: &[String]) -> HashMap<&str, usize> {
    ids.iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect()
}

/// Strongly connected components with more than one member, or a member depending on
/// itself: the dependency cycles. Members are listed in `ids` order.
pub fn cycles(ids: &[String], deps: &HashMap<String, Vec<String>>) -> Vec<Vec<String>> {
    let index_of = positions(ids);
    let adj: Vec<Vec<usize>> = ids
        .iter()
        .map(|id| {
            deps.get(id)
                .into_iter()
                .flatten()
                .filter_map(|d| index_of.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    // Iterative Tarjan, so that a long chain cannot overflow the stack.
    let n = ids.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut out = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work = vec![(root, 0usize)];
        while let Some(&mut (v, ref mut child)) = work.last_mut() {
            if *child == 0 && index[v] == usize::MAX {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if *child < adj[v].len() {
                let w = adj[v][*child];
                *child += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                loop {
                    let w = stack.pop().expect("tarjan stack");
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 || adj[v].contains(&v) {
                    comp.sort_unstable();
                    out.push(comp.into_iter().map(|i| ids[i].clone()).collect());
                }
            }
        }
    }
    out.sort();
    out
}

/// Groups `ids` into levels: every member of a level depends only on earlier levels, so a
/// level's members can be created in parallel. Members of cycles are left out.
pub fn levels(ids: &[String], deps: &HashMap<String, Vec<String>>) -> Vec<Vec<String>> {
    let index_of = positions(ids);
    let mut indegree = vec![0usize; ids.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); ids.len()];
    for (i, id) in ids.iter().enumerate() {
        let mut seen = Vec::new();
        for d in deps.get(id).into_iter().flatten() {
            if let Some(&j) = index_of.get(d.as_str())
                && !seen.contains(&j)
            {
                seen.push(j);
                indegree[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let mut current: Vec<usize> = (0..ids.len()).filter(|&i| indegree[i] == 0).collect();
    let mut out = Vec::new();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &k in &dependents[i] {
                indegree[k] -= 1;
                if indegree[k] == 0 {
                    next.push(k);
                }
            }
        }
        next.sort_unstable();
        out.push(current.iter().map(|&i| ids[i].clone()).collect());
        current = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(pairs: &[(&str, &[&str])]) -> (Vec<String>, HashMap<String, Vec<String>>) {
        let ids = pairs.iter().map(|(k, _)| k.to_string()).collect();
        let d = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect();
        (ids, d)
    }

    #[test]
    fn finds_every_member_of_each_cycle() {
        let (ids, d) = deps(&[
            ("A", &["B"]),
            ("B", &["C"]),
            ("C", &["A"]),
            ("D", &["D"]),
            ("E", &["A"]),
        ]);
        assert_eq!(
            cycles(&ids, &d),
            vec![
                vec!["A".to_string(), "B".into(), "C".into()],
                vec!["D".to_string()]
            ]
        );
    }

    #[test]
    fn levels_expose_parallelism() {
        let (ids, d) = deps(&[
            ("Vpc", &[]),
            ("Bucket", &[]),
            ("Subnet", &["Vpc"]),
            ("Instance", &["Subnet", "Bucket"]),
        ]);
        assert_eq!(
            levels(&ids, &d),
            vec![
                vec!["Vpc".to_string(), "Bucket".into()],
                vec!["Subnet".to_string()],
                vec!["Instance".to_string()]
            ]
        );
    }

    #[test]
    fn long_chains_do_not_overflow() {
        let ids: Vec<String> = (0..100_000).map(|i| format!("R{i}")).collect();
        let d: HashMap<String, Vec<String>> = (1..100_000)
            .map(|i| (format!("R{i}"), vec![format!("R{}", i - 1)]))
            .collect();
        assert!(cycles(&ids, &d).is_empty());
        assert_eq!(levels(&ids, &d).len(), 100_000);
    }
}
