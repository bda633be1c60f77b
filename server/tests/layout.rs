//! The workspace's layout rules, checked from the source: no two modules of `server` or
//! `storage` import each other, directly or in a loop. A module is a file (or a folder with a
//! `mod.rs`) directly under `src/`; it imports another when its code (its unit tests aside)
//! names `crate::other`, so `crate::store::commit` is an import of `store`, and the files
//! inside a folder module count as that module. A loop is reported as the modules it goes
//! through.
//!
//! Inside a folder module the same rule holds between its files (for the crates in
//! `NESTED`): `store/commit.rs` imports its sibling `journal` when it names `super::journal`
//! or `crate::store::journal`. The folder's `mod.rs` is the parent, not a sibling: every file
//! may use it. Grouped paths (`super::{a::X, b::Y}`) are not parsed; name siblings one path
//! each.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The crates whose folder modules are checked inside too.
const NESTED: &[&str] = &["storage", "server"];

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

/// The names that follow `prefix` in `text` (its unit tests aside).
fn names_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let code = without_tests(text);
    code.match_indices(prefix)
        .map(|(at, _)| {
            code[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// The modules directly in `dir`, by name: `.rs` files and folders with a `mod.rs`, less
/// `skip` (the crate root, or a folder's own `mod.rs`).
fn modules_in(dir: &Path, skip: &[&str]) -> BTreeMap<String, PathBuf> {
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let is_module = (path.is_file() && path.extension().is_some_and(|e| e == "rs"))
            || path.join("mod.rs").is_file();
        if is_module && !skip.contains(&name.as_str()) {
            modules.insert(name, path);
        }
    }
    modules
}

/// Module name -> the modules it imports, for the modules in `dir` (at `crate::{path}`):
/// a module imports a sibling it names after `crate::{path}` anywhere in its files, or after
/// `super::` in its own file (`x.rs`, `x/mod.rs`) when `dir` is a folder module.
fn graph_of(dir: &Path, path: &str) -> Graph {
    let modules = if path.is_empty() {
        modules_in(dir, &["lib", "main"])
    } else {
        modules_in(dir, &["mod"])
    };
    let absolute = format!("crate::{path}");
    let mut graph = Graph::new();
    for (name, module) in &modules {
        let own_file = if module.is_dir() {
            module.join("mod.rs")
        } else {
            module.clone()
        };
        let mut named = BTreeSet::new();
        for file in sources(module) {
            let text = std::fs::read_to_string(&file).unwrap();
            named.extend(names_after(&text, &absolute));
            if !path.is_empty() && file == own_file {
                named.extend(names_after(&text, "super::"));
            }
        }
        named.retain(|other| other != name && modules.contains_key(other));
        graph.insert(name.clone(), named);
    }
    graph
}

/// Module name -> the modules it imports, for the modules directly under `src`.
fn import_graph(src: &Path) -> Graph {
    graph_of(src, "")
}

/// Every folder module under `dir` (at `crate::{path}`), with its graph, depth first.
fn folder_graphs(dir: &Path, path: &str) -> Vec<(String, Graph)> {
    let skip: &[&str] = if path.is_empty() {
        &["lib", "main"]
    } else {
        &["mod"]
    };
    let mut found = Vec::new();
    for (name, module) in modules_in(dir, skip) {
        if module.is_dir() {
            let inner = format!("{path}{name}::");
            found.push((inner.clone(), graph_of(&module, &inner)));
            found.extend(folder_graphs(&module, &inner));
        }
    }
    found
}

/// A loop in the graph, as the modules it goes through, if there is one.
fn find_loop(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
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
fn no_file_of_a_folder_module_imports_itself_through_its_siblings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for krate in NESTED {
        let folders = folder_graphs(&root.join(krate).join("src"), "");
        assert!(!folders.is_empty(), "{krate}: no folder modules found");
        for (folder, graph) in folders {
            if let Some(cycle) = find_loop(&graph) {
                let folder = folder.trim_end_matches("::");
                panic!(
                    "{krate}: an import loop in crate::{folder}: {}",
                    cycle.join(" -> ")
                );
            }
        }
    }
}

#[test]
fn a_folder_module_counts_as_one_module_and_its_files_as_siblings() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../storage/src");
    let top = import_graph(&src);
    // `store` is a folder; what its files import is what `store` imports.
    assert!(top["store"].contains("tables"), "{:?}", top["store"]);
    assert!(top["mirror"].contains("store"), "{:?}", top["mirror"]);
    let folders = folder_graphs(&src, "");
    let (_, store) = folders
        .iter()
        .find(|(folder, _)| folder == "store::")
        .unwrap();
    // `commit.rs` names `super::journal`; nobody imports `mod.rs` as a sibling.
    assert!(store["commit"].contains("journal"), "{:?}", store["commit"]);
    assert!(!store.contains_key("mod"));
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
