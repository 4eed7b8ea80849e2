//! The layout, checked: the crate's own sources (`src/**/*.rs`) are read for the modules they
//! name (`crate::`, `super::` and `self::` paths, in `use` items, code and macro bodies; test
//! modules and comments do not count), and the modules are grouped into rooms: each top-level
//! module is one (`pairing`, `server`, `settings`, `oidc`, `demo_idp`, `limits`, `metrics`,
//! `qr`, `seal`, `cli`, ...), and the browser half (`app`, `pages`, `components`, `hooks`,
//! `api`, `model`, `error`) is one room, `browser`. Three rules:
//!
//! - no two rooms import each other, directly or round a circle, with one exception by design:
//!   the browser half and the server reference each other through the server functions
//!   (Leptos puts them in `api.rs`, which reaches the server's `AppState`, and the server's
//!   router renders `app::App`). That pair is left out of the search, and only that pair:
//!   any other room that closes a circle with either of them is reported;
//! - the pairing core, the provider client, the settings and the demo provider never import
//!   the HTTP edge (`server`);
//! - inside `pairing/` and `server/`, the sibling files (and the folders below them) import
//!   each other without a circle. What a child takes from its parent (`pairing.rs`) and the
//!   parent from its children is not counted here.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::Path;

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// The top-level modules that make up the browser half, counted as the room `browser`.
const BROWSER: &[&str] = &[
    "app",
    "pages",
    "components",
    "hooks",
    "api",
    "model",
    "error",
];
/// The one pair of rooms that may reference each other (see the module docs).
const BY_DESIGN: (&str, &str) = ("browser", "server");
/// Rooms that must never import the HTTP edge.
const NEVER_IMPORT_SERVER: &[&str] = &["pairing", "oidc", "settings", "demo_idp"];
/// Rooms whose sibling files are checked for circles too.
const SECOND_LEVEL: &[&str] = &["pairing", "server"];

/// A module's path below the crate root (`["pairing", "store"]`); the root is empty.
type ModulePath = Vec<String>;

/// One module named in the sources.
struct Reference {
    /// The file it is named in, as `src/...`.
    file: String,
    /// The module (inline modules included) it is named in.
    from: ModulePath,
    /// The module it names (the longest part of the path that is a module).
    to: ModulePath,
    /// The path as written, for messages.
    written: String,
}

/// What the sources say: every reference from one of the crate's modules to another.
struct Crate {
    references: Vec<Reference>,
}

impl Crate {
    /// Reads `src/`.
    fn read(src: &Path) -> Self {
        let mut files = Vec::new();
        collect_rust_files(src, src, &mut files);
        assert!(!files.is_empty(), "no Rust files under {}", src.display());
        Self::parse(&files)
    }

    /// Parses `(path below src/, source text)` pairs.
    fn parse(files: &[(String, String)]) -> Self {
        let mut modules = BTreeSet::new();
        let mut raw = Vec::new();
        for (path, text) in files {
            let Some(module) = module_of(path) else {
                continue;
            };
            let syntax = syn::parse_file(text)
                .unwrap_or_else(|error| panic!("src/{path} does not parse: {error}"));
            let mut collector = Collector {
                module: module.clone(),
                modules: &mut modules,
                found: Vec::new(),
            };
            collector.modules.insert(module);
            collector.visit_file(&syntax);
            let file = format!("src/{path}");
            raw.extend(
                collector
                    .found
                    .into_iter()
                    .map(|(from, target, written)| (file.clone(), from, target, written)),
            );
        }
        let references = raw
            .into_iter()
            .filter_map(|(file, from, target, written)| {
                let to = (1..=target.len())
                    .rev()
                    .map(|n| target[..n].to_vec())
                    .find(|prefix| modules.contains(prefix))?;
                Some(Reference {
                    file,
                    from,
                    to,
                    written,
                })
            })
            .collect();
        Self { references }
    }

    /// The room-to-room references: (from, to) and the references that make each one.
    fn room_edges(&self) -> Edges<'_> {
        let mut edges = Edges::new();
        for reference in &self.references {
            let (Some(from), Some(to)) = (room(&reference.from), room(&reference.to)) else {
                continue;
            };
            if from != to {
                edges.entry((from, to)).or_default().push(reference);
            }
        }
        edges
    }

    /// Every rule broken, as lines of a report (empty: none).
    fn problems(&self) -> Vec<String> {
        [
            self.room_cycles(),
            self.server_imports(),
            self.sibling_cycles(),
        ]
        .concat()
    }

    /// Circles between rooms, the pair by design left out.
    fn room_cycles(&self) -> Vec<String> {
        let mut edges = self.room_edges();
        let (a, b) = BY_DESIGN;
        edges.retain(|(from, to), _| !((from == a && to == b) || (from == b && to == a)));
        report_cycles("rooms", &edges)
    }

    /// References from the rooms that must not import the HTTP edge into it.
    fn server_imports(&self) -> Vec<String> {
        self.references
            .iter()
            .filter(|r| {
                room(&r.from).is_some_and(|from| NEVER_IMPORT_SERVER.contains(&from.as_str()))
                    && room(&r.to).as_deref() == Some("server")
            })
            .map(|r| {
                format!(
                    "{} imports the HTTP edge: {} (only the server may use the server)",
                    r.file, r.written
                )
            })
            .collect()
    }

    /// Circles between sibling files inside each second-level room.
    fn sibling_cycles(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for parent in SECOND_LEVEL {
            let mut edges = Edges::new();
            for reference in &self.references {
                let (from, to) = (&reference.from, &reference.to);
                let inside = |m: &ModulePath| m.len() >= 2 && m[0] == *parent;
                if inside(from) && inside(to) && from[1] != to[1] {
                    let name = |m: &ModulePath| format!("{parent}::{}", m[1]);
                    edges
                        .entry((name(from), name(to)))
                        .or_default()
                        .push(reference);
                }
            }
            problems.extend(report_cycles(&format!("files in {parent}/"), &edges));
        }
        problems
    }
}

/// Directed edges between named nodes, with the references behind each.
type Edges<'a> = BTreeMap<(String, String), Vec<&'a Reference>>;

/// The room a module belongs to; None for the crate root.
fn room(module: &ModulePath) -> Option<String> {
    let top = module.first()?;
    Some(if BROWSER.contains(&top.as_str()) {
        "browser".to_owned()
    } else {
        top.clone()
    })
}

/// One report entry per group of nodes that reach each other: a shortest circle through it,
/// and for each of its steps the first reference that makes it.
fn report_cycles(what: &str, edges: &Edges<'_>) -> Vec<String> {
    let mut next: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().insert(to);
    }
    let reach = |start: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([start.to_owned()]);
        while let Some(node) = queue.pop_front() {
            for to in next.get(node.as_str()).into_iter().flatten() {
                if seen.insert((*to).to_owned()) {
                    queue.push_back((*to).to_owned());
                }
            }
        }
        seen
    };
    let nodes: BTreeSet<&str> = next.keys().copied().collect();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    let mut problems = Vec::new();
    for node in nodes {
        if reported.contains(node) || !reach(node).contains(node) {
            continue;
        }
        let group: BTreeSet<String> = reach(node)
            .into_iter()
            .filter(|other| reach(other).contains(node))
            .collect();
        reported.extend(group.iter().cloned());
        let circle = shortest_circle(node, &next);
        let mut text = format!("import cycle between {what}: {}", circle.join(" -> "));
        if group.len() > circle.len() - 1 {
            let _ = write!(text, " (all of {group:?} reach each other)");
        }
        for step in circle.windows(2) {
            let behind = &edges[&(step[0].clone(), step[1].clone())];
            let first = behind[0];
            let _ = write!(
                text,
                "\n    {} -> {}: {} uses {}",
                step[0], step[1], first.file, first.written
            );
            if behind.len() > 1 {
                let _ = write!(text, " (and {} more)", behind.len() - 1);
            }
        }
        problems.push(text);
    }
    problems
}

/// The shortest path from `start` back to itself (breadth first), `start` at both ends.
fn shortest_circle(start: &str, next: &BTreeMap<&str, BTreeSet<&str>>) -> Vec<String> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &to in next.get(node).into_iter().flatten() {
            if to == start {
                let mut path = vec![node.to_owned()];
                let mut at = node;
                while at != start {
                    at = came_from[at];
                    path.push(at.to_owned());
                }
                path.reverse();
                path.push(start.to_owned());
                return path;
            }
            if to != start && !came_from.contains_key(to) {
                came_from.insert(to, node);
                queue.push_back(to);
            }
        }
    }
    unreachable!("{start} is on a circle")
}

/// Every `.rs` file below `dir`, as (path below `src`, text).
fn collect_rust_files(src: &Path, dir: &Path, into: &mut Vec<(String, String)>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_rust_files(src, &path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let below = path.strip_prefix(src).expect("below src");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            into.push((below.to_string_lossy().replace('\\', "/"), text));
        }
    }
}

/// The module a file below `src/` holds; None for the binary's root (`main.rs`), a crate
/// of its own.
fn module_of(path: &str) -> Option<ModulePath> {
    let path = path.strip_suffix(".rs")?;
    let mut parts: Vec<String> = path.split('/').map(str::to_owned).collect();
    match parts.last().map(String::as_str) {
        Some("main") if parts.len() == 1 => return None,
        Some("lib") if parts.len() == 1 => parts.clear(),
        Some("mod") => {
            parts.pop();
        }
        _ => {}
    }
    Some(parts)
}

/// Walks one file's syntax tree, collecting (module written in, absolute path, as written).
struct Collector<'a> {
    module: ModulePath,
    modules: &'a mut BTreeSet<ModulePath>,
    found: Vec<(ModulePath, Vec<String>, String)>,
}

impl Collector<'_> {
    /// Records a path (its segments as written) if it names something in this crate.
    fn record(&mut self, segments: &[String]) {
        let Some(first) = segments.first() else {
            return;
        };
        let absolute: Vec<String> = match first.as_str() {
            "crate" => segments[1..].to_vec(),
            "self" => [self.module.clone(), segments[1..].to_vec()].concat(),
            "super" => {
                let ups = segments.iter().take_while(|s| *s == "super").count();
                let Some(keep) = self.module.len().checked_sub(ups) else {
                    return;
                };
                [self.module[..keep].to_vec(), segments[ups..].to_vec()].concat()
            }
            _ => return,
        };
        self.found
            .push((self.module.clone(), absolute, segments.join("::")));
    }

    /// Paths inside a macro's tokens: `crate`, `self` or `super`, then `::`-separated names.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < trees.len() {
            match &trees[i] {
                TokenTree::Group(group) => self.scan_tokens(group.stream()),
                TokenTree::Ident(ident)
                    if ["crate", "self", "super"].contains(&ident.to_string().as_str()) =>
                {
                    let mut segments = vec![ident.to_string()];
                    let mut j = i + 1;
                    while let (
                        Some(TokenTree::Punct(a)),
                        Some(TokenTree::Punct(b)),
                        Some(TokenTree::Ident(name)),
                    ) = (trees.get(j), trees.get(j + 1), trees.get(j + 2))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        segments.push(name.to_string());
                        j += 3;
                    }
                    if segments.len() > 1 {
                        self.record(&segments);
                    }
                    i = j - 1;
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// Every path a `use` tree names, with `prefix` before it.
    fn use_tree(&mut self, prefix: &[String], tree: &syn::UseTree) {
        let extend = |name: String| [prefix.to_vec(), vec![name]].concat();
        match tree {
            syn::UseTree::Path(path) => self.use_tree(&extend(path.ident.to_string()), &path.tree),
            syn::UseTree::Name(name) if name.ident == "self" => self.record(prefix),
            syn::UseTree::Name(name) => self.record(&extend(name.ident.to_string())),
            syn::UseTree::Rename(rename) => self.record(&extend(rename.ident.to_string())),
            syn::UseTree::Glob(_) => self.record(prefix),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }
}

/// Whether an item is test code: `#[cfg(test)]`.
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .meta
                .require_list()
                .is_ok_and(|list| list.tokens.to_string() == "test")
    })
}

fn attrs_of(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item;
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test_only(attrs_of(item)) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        // `mod x;` only declares the file that is read on its own.
        if item.content.is_some() {
            self.module.push(item.ident.to_string());
            self.modules.insert(self.module.clone());
            syn::visit::visit_item_mod(self, item);
            self.module.pop();
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&[], &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(&segments);
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.scan_tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

/// Fails with every problem found in this crate's sources.
fn assert_none(what: &str, problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{what}:\n\n{}\n",
        problems.join("\n\n")
    );
}

fn this_crate() -> Crate {
    Crate::read(&crate::support::repo_root().join("src"))
}

#[test]
fn rooms_import_each_other_without_cycles() {
    assert_none(
        "the rooms import each other in a circle",
        this_crate().room_cycles(),
    );
}

#[test]
fn the_core_the_provider_client_the_settings_and_the_demo_provider_never_import_the_server() {
    assert_none(
        "the HTTP edge is imported from below",
        this_crate().server_imports(),
    );
}

#[test]
fn sibling_files_in_pairing_and_server_import_each_other_without_cycles() {
    assert_none(
        "sibling files import each other in a circle",
        this_crate().sibling_cycles(),
    );
}

// The checks themselves, on made-up sources: each rule can fail.

fn made_up(files: &[(&str, &str)]) -> Crate {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
        .collect();
    Crate::parse(&files)
}

#[test]
fn a_room_importing_back_is_a_cycle() {
    let sources = made_up(&[
        ("lib.rs", "pub mod pairing; pub mod qr;"),
        ("pairing.rs", "use crate::qr::draw;"),
        ("qr.rs", "pub fn draw() { crate::pairing::start(); }"),
    ]);
    let problems = sources.problems();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].starts_with("import cycle between rooms: pairing -> qr -> pairing"),
        "{}",
        problems[0]
    );
    assert!(
        problems[0].contains("src/qr.rs uses crate::pairing::start"),
        "{}",
        problems[0]
    );
}

#[test]
fn the_browser_and_the_server_may_reference_each_other_but_no_third_room_may_join_in() {
    let by_design = [
        ("api.rs", "use crate::server::AppState;"),
        ("server.rs", "pub mod router;"),
        ("server/router.rs", "use crate::app::App;"),
        ("app.rs", "pub fn App() {}"),
        ("pairing.rs", "use crate::model::TvStatus;"),
        ("model.rs", "pub struct TvStatus;"),
    ];
    assert_eq!(made_up(&by_design).problems(), Vec::<String>::new());

    // A server function that reaches the pairing core itself closes a circle with it.
    let mut reaching = by_design.to_vec();
    reaching.push((
        "api/backend.rs",
        "fn acted() -> crate::pairing::Acted { todo() }",
    ));
    let problems = made_up(&reaching).problems();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("browser -> pairing -> browser"),
        "{}",
        problems[0]
    );
}

#[test]
fn the_core_importing_the_server_is_found_in_code_and_in_macros() {
    let problems = made_up(&[
        (
            "pairing/task.rs",
            "fn f() { let _ = super::super::server::AppState::new(); }",
        ),
        (
            "oidc.rs",
            "fn g() { tracing::info!(\"{}\", crate::server::VERSION); }",
        ),
        (
            "settings.rs",
            "use crate::{seal::Key, server::{self, start}};",
        ),
        ("server.rs", "pub mod start; pub struct AppState;"),
    ])
    .server_imports();
    assert_eq!(problems.len(), 4, "{problems:#?}");
    for (file, written) in [
        ("src/pairing/task.rs", "super::super::server::AppState::new"),
        ("src/oidc.rs", "crate::server::VERSION"),
        ("src/settings.rs", "crate::server"),
        ("src/settings.rs", "crate::server::start"),
    ] {
        let line = format!("{file} imports the HTTP edge: {written} ");
        assert!(
            problems.iter().any(|p| p.starts_with(&line)),
            "{line}\n{problems:#?}"
        );
    }
}

#[test]
fn siblings_may_not_form_a_cycle_but_parent_and_child_may() {
    let problems = made_up(&[
        ("pairing.rs", "mod store; mod task; use self::task::run;"),
        (
            "pairing/task.rs",
            "use super::Hub; use super::store::Store;",
        ),
        ("pairing/store.rs", "pub mod memory; use super::Hub;"),
        (
            "pairing/store/memory.rs",
            "use crate::pairing::task::Lease;",
        ),
    ])
    .sibling_cycles();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].starts_with(
            "import cycle between files in pairing/: pairing::store -> pairing::task -> pairing::store"
        ),
        "{}",
        problems[0]
    );
    assert!(
        problems[0].contains("src/pairing/store/memory.rs uses crate::pairing::task::Lease"),
        "{}",
        problems[0]
    );
}

#[test]
fn test_code_and_comments_do_not_count() {
    let problems = made_up(&[
        (
            "pairing.rs",
            "// use crate::server::AppState;\n\
             /// Unlike crate::server::AppState, ...\n\
             pub fn f() {}\n\
             #[cfg(test)]\n\
             mod tests { use crate::server::AppState; }",
        ),
        ("server.rs", "pub struct AppState;"),
    ])
    .problems();
    assert_eq!(problems, Vec::<String>::new());
}
