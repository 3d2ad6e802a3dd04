//! The crate's own import graph, read from the source with `syn`: no
//! module imports a module that imports it back (directly or round a
//! longer circle), imports run down the layers of docs/design/layout.md, and the
//! byte parsers import nothing from the media pipeline or I/O. Run alone
//! with `cargo test --test integration layout`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A file's module path, e.g. `["plex", "ssdp"]` (the crate root is empty).
type Module = Vec<String>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every library source file with its module path (`main.rs` is the
/// binary, a crate of its own).
fn modules() -> BTreeMap<Module, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("read src") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = src_dir();
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut map = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&root).unwrap();
        let mut parts: Vec<String> = rel
            .iter()
            .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_string())
            .collect();
        if parts == ["main"] || parts.first().is_some_and(|p| p == "bin") {
            continue;
        }
        if parts == ["lib"] || parts.last().is_some_and(|p| p == "mod") {
            parts.pop();
        }
        map.insert(parts, f);
    }
    map
}

/// Collects every `crate::`/`super::`/`self::` (and child-relative) path a
/// file names, resolved to absolute module paths.
struct Refs<'a> {
    /// The module the visitor is in (inline `mod tests {}` nests deeper).
    here: Module,
    known: &'a BTreeMap<Module, PathBuf>,
    out: BTreeSet<Vec<String>>,
}

impl Refs<'_> {
    fn resolve(&self, segs: &[String]) -> Option<Vec<String>> {
        let first = segs.first()?;
        let mut base = self.here.clone();
        let rest = match first.as_str() {
            "crate" => {
                base.clear();
                &segs[1..]
            }
            "self" => &segs[1..],
            "super" => {
                let mut i = 0;
                while segs.get(i).is_some_and(|s| s == "super") {
                    base.pop();
                    i += 1;
                }
                &segs[i..]
            }
            name => {
                // A child module named without `self::` (2018 paths).
                let mut child = base.clone();
                child.push(name.to_string());
                if !self.known.contains_key(&child) {
                    return None;
                }
                segs
            }
        };
        let mut abs = base;
        abs.extend(rest.iter().cloned());
        Some(abs)
    }

    fn add(&mut self, segs: Vec<String>) {
        if let Some(abs) = self.resolve(&segs) {
            self.out.insert(abs);
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, t: &syn::UseTree) {
        match t {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut s = prefix.clone();
                if n.ident != "self" {
                    s.push(n.ident.to_string());
                }
                self.add(s);
            }
            syn::UseTree::Rename(r) => {
                let mut s = prefix.clone();
                s.push(r.ident.to_string());
                self.add(s);
            }
            syn::UseTree::Glob(_) => self.add(prefix.clone()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Refs<'_> {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if m.content.is_some() {
            self.here.push(m.ident.to_string());
            syn::visit::visit_item_mod(self, m);
            self.here.pop();
        }
    }

    /// `pub(super)` names a module but imports nothing.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if matches!(
            segs.first().map(String::as_str),
            Some("crate" | "super" | "self")
        ) {
            self.add(segs);
        }
        syn::visit::visit_path(self, p);
    }
}

/// The longest prefix of `path` that is a module file.
fn owner(known: &BTreeMap<Module, PathBuf>, path: &[String]) -> Module {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| known.contains_key(m))
        .unwrap_or_default()
}

/// The paths module `from` names that belong to module `to`.
fn refs_between(from: &Module, to: &Module) -> Vec<String> {
    let known = modules();
    let text = std::fs::read_to_string(&known[from]).unwrap();
    let ast = syn::parse_file(&text).unwrap();
    let mut r = Refs {
        here: from.clone(),
        known: &known,
        out: BTreeSet::new(),
    };
    r.visit_file(&ast);
    r.out
        .into_iter()
        .filter(|p| &owner(&known, p) == to)
        .map(|p| p.join("::"))
        .collect()
}

/// File-level import edges (a module to the modules it names).
fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let known = modules();
    let mut g = BTreeMap::new();
    for (m, file) in &known {
        let text = std::fs::read_to_string(file).unwrap();
        let ast = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{}: cannot parse: {e}", file.display()));
        let mut r = Refs {
            here: m.clone(),
            known: &known,
            out: BTreeSet::new(),
        };
        r.visit_file(&ast);
        let deps: BTreeSet<Module> = r
            .out
            .iter()
            .map(|p| owner(&known, p))
            .filter(|d| d != m && !d.is_empty())
            .collect();
        g.insert(m.clone(), deps);
    }
    g
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// A circle in `g`, if there is one, as the modules round it.
fn find_cycle(g: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn dfs(
        m: &Module,
        g: &BTreeMap<Module, BTreeSet<Module>>,
        mark: &mut BTreeMap<Module, Mark>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        mark.insert(m.clone(), Mark::Open);
        stack.push(m.clone());
        for d in g.get(m).into_iter().flatten() {
            match mark.get(d).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let i = stack.iter().position(|s| s == d).unwrap();
                    let mut c = stack[i..].to_vec();
                    c.push(d.clone());
                    return Some(c);
                }
                Mark::New => {
                    if let Some(c) = dfs(d, g, mark, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        mark.insert(m.clone(), Mark::Done);
        None
    }
    let mut mark = BTreeMap::new();
    for m in g.keys() {
        if mark.get(m).copied().unwrap_or(Mark::New) == Mark::New {
            let mut stack = Vec::new();
            if let Some(c) = dfs(m, g, &mut mark, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let g = graph();
    assert!(g.len() > 30, "read the source tree: {} modules", g.len());
    if let Some(c) = find_cycle(&g) {
        let names: Vec<String> = c.iter().map(name).collect();
        let refs = c
            .windows(2)
            .map(|w| format!("{} names {:?}", name(&w[0]), refs_between(&w[0], &w[1])))
            .collect::<Vec<_>>();
        panic!("import circle: {}\n{refs:#?}", names.join(" → "));
    }
}

/// docs/design/layout.md's layers, lowest first: a module may import its own layer
/// (without circles, checked above) or a lower one, never a higher one.
/// The provider parsers are leaves (pure, checked below): layer 0.
fn layer(m: &[String]) -> u8 {
    let second = m.get(1).map(String::as_str);
    if m[0] == "providers" && matches!(second, None | Some("m3u" | "xtream" | "xmltv")) {
        return 0;
    }
    match m[0].as_str() {
        "config" | "redact" => 0,
        "events" | "store" => 1,
        "lineup" | "media" | "providers" => 2,
        "http" | "plex" | "probe" | "web" | "demo" => 3,
        "app" => 4,
        _ => 5,
    }
}

#[test]
fn imports_run_down_the_layers() {
    let mut wrong = Vec::new();
    for (m, deps) in graph() {
        let Some(top) = m.first() else { continue };
        for d in deps {
            let dtop = &d[0];
            if dtop != top && layer(&d) > layer(&m) {
                wrong.push(format!("{} imports {}", name(&m), name(&d)));
            }
        }
    }
    assert!(wrong.is_empty(), "upward imports: {wrong:#?}");
}

#[test]
fn parsers_import_nothing_from_media_or_io() {
    // Each with its submodules (`providers::xmltv::reader`, …).
    let pure: &[&[&str]] = &[
        &["media", "ts"],
        &["plex", "discovery"],
        &["plex", "ssdp_msg"],
        &["redact"],
        &["providers", "m3u"],
        &["providers", "xtream"],
        &["providers", "xmltv"],
    ];
    let is_pure = |m: &[String]| {
        pure.iter()
            .any(|p| m.len() >= p.len() && m.iter().zip(p.iter()).all(|(a, b)| a == b))
    };
    let g = graph();
    let known = modules();
    let mut checked = 0;
    for (m, deps) in &g {
        if !is_pure(m) {
            continue;
        }
        checked += 1;
        let wrong: Vec<String> = deps
            .iter()
            .filter(|d| !is_pure(d))
            // ssdp_msg borrows one constant (the UPnP device type) from hdhomerun.
            .filter(|d| !(d[0] == "plex" && d.get(1).is_some_and(|s| s == "hdhomerun")))
            // The provider parsers share the gzip helper of their parent.
            .filter(|d| d.as_slice() != ["providers"])
            .map(name)
            .collect();
        assert!(wrong.is_empty(), "{} imports {wrong:?}", name(m));
        let text = std::fs::read_to_string(&known[m]).unwrap();
        for io in [
            "ffmpeg",
            "tokio::",
            "std::fs",
            "std::net::UdpSocket",
            "reqwest",
            "sqlx",
        ] {
            assert!(!text.contains(io), "{} uses {io}", name(m));
        }
    }
    assert!(checked >= 7, "found the parsers: {checked}");
}

#[test]
fn the_checker_finds_a_circle() {
    let m = |s: &str| -> Module { s.split("::").map(str::to_string).collect() };
    let mut g = BTreeMap::new();
    g.insert(m("a"), BTreeSet::from([m("b")]));
    g.insert(m("b"), BTreeSet::from([m("c")]));
    g.insert(m("c"), BTreeSet::from([m("a")]));
    let c = find_cycle(&g).expect("a → b → c → a");
    assert_eq!(c.len(), 4);
    g.insert(m("c"), BTreeSet::new());
    assert!(find_cycle(&g).is_none());
}
