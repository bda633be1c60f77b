//! The workspace's layout rules, checked from the source: no two modules of `server` or
//! `storage` import each other, directly or in a loop. A module is a file (or a folder with a
//! `mod.rs`) directly under `src/`; it imports another when its code (its unit tests aside)
//! names `crate::other`. A loop is reported as the modules it goes through.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `path` (itself, if it is one).
fn sources(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        found.extend(sources(&entry.unwrap().path()));
    }
    found
}

/// The module's code without its unit tests (a trailing `#[cfg(test)] mod tests`).
fn without_tests(text: &str) -> &str {
    text.find("#[cfg(test)]\nmod tests")
        .map_or(text, |at| &text[..at])
}

/// Module name -> the modules it imports.
fn import_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut modules: BTreeMap<String, PathBuf> = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let is_module = (path.is_file() && path.extension().is_some_and(|e| e == "rs"))
            || path.join("mod.rs").is_file();
        if is_module && name != "lib" && name != "main" {
            modules.insert(name, path);
        }
    }
    let mut graph = BTreeMap::new();
    for (name, path) in &modules {
        let mut imports = BTreeSet::new();
        for file in sources(path) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (at, _) in without_tests(&text).match_indices("crate::") {
                let rest = &text[at + "crate::".len()..];
                let other: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if other != *name && modules.contains_key(&other) {
                    imports.insert(other);
                }
            }
        }
        graph.insert(name.clone(), imports);
    }
    graph
}

/// A loop in the graph, as the modules it goes through, if there is one.
fn find_loop(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|seen| seen == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in &graph[node] {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_of_server_or_storage_imports_itself_through_others() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for krate in ["server", "storage"] {
        let graph = import_graph(&root.join(krate).join("src"));
        assert!(graph.len() > 3, "{krate}: modules not found");
        if let Some(cycle) = find_loop(&graph) {
            panic!("{krate}: an import loop: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_loop_finder_finds_a_loop() {
    let mut graph = BTreeMap::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")] {
        graph
            .entry(from.to_owned())
            .or_insert_with(BTreeSet::new)
            .insert(to.to_owned());
    }
    let cycle = find_loop(&graph).unwrap();
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4);
    graph.get_mut("c").unwrap().clear();
    assert_eq!(find_loop(&graph), None);
}
