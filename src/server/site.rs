//! Where the browser files are (the site root cargo-leptos builds: `pkg/` with the
//! WebAssembly, its script and the styles, plus `favicon.ico`), so the binary finds them
//! wherever it is installed and whatever its working directory.
//!
//! In this order: `SITE_DIR`; `LEPTOS_SITE_ROOT` (cargo-leptos sets it when it runs the
//! server); `../share/tvsignin/site` from the binary's directory (an installed copy, e.g.
//! `/usr/bin` -> `/usr/share/tvsignin/site`); `../site` from it (a cargo build,
//! `target/release` -> `target/site`); else `target/site` in the working directory.
//!
//! When cargo-leptos hashed the file names, their hashes are in `hash.txt`: next to the
//! binary in a cargo build, next to the site directory in an installed copy.

use std::path::{Path, PathBuf};

/// The site directory, relative to the binary's directory, in an installed copy.
const INSTALLED: &str = "../share/tvsignin/site";
/// The same in a cargo build (`target/<profile>/tvsignin` and `target/site`).
const CARGO_BUILD: &str = "../site";
/// Where cargo-leptos writes the content hashes of the bundle's file names.
const HASH_FILE: &str = "hash.txt";

/// The browser files and, when their names carry content hashes, the file listing them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteFiles {
    pub root: PathBuf,
    /// `None`: the names carry no hashes.
    pub hash_file: Option<PathBuf>,
}

impl SiteFiles {
    /// Finds the site for this process: `site_dir` is the `SITE_DIR` setting.
    pub fn locate(site_dir: Option<&Path>) -> Self {
        let exe = std::env::current_exe().ok();
        let exe_dir = exe.as_deref().and_then(Path::parent);
        let cargo_leptos = std::env::var_os("LEPTOS_SITE_ROOT").map(PathBuf::from);
        Self::locate_from(site_dir.map(Path::to_path_buf).or(cargo_leptos), exe_dir)
    }

    fn locate_from(chosen: Option<PathBuf>, exe_dir: Option<&Path>) -> Self {
        let root = chosen
            .or_else(|| {
                let dir = exe_dir?;
                [INSTALLED, CARGO_BUILD]
                    .iter()
                    .map(|relative| dir.join(relative))
                    .find(|candidate| candidate.join("pkg").is_dir())
            })
            .unwrap_or_else(|| PathBuf::from("target/site"));
        let next_to_binary = exe_dir.map(|dir| dir.join(HASH_FILE));
        let next_to_site = root.parent().map(|dir| dir.join(HASH_FILE));
        let hash_file = next_to_binary
            .into_iter()
            .chain(next_to_site)
            .find(|path| path.is_file())
            // Leptos looks for it from the binary's directory: only an absolute path is
            // found from there.
            .and_then(|path| std::path::absolute(path).ok());
        Self { root, hash_file }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch tree: `usr/bin/` (the binary's directory) and whatever the test adds.
    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("tvsignin-site-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("usr/bin")).unwrap();
            Self(dir)
        }
        fn add_dir(&self, relative: &str) -> PathBuf {
            let path = self.0.join(relative);
            std::fs::create_dir_all(&path).unwrap();
            path
        }
        fn add_file(&self, relative: &str) -> PathBuf {
            let path = self.0.join(relative);
            std::fs::write(&path, "js: abc\n").unwrap();
            path
        }
        fn bin(&self) -> PathBuf {
            self.0.join("usr/bin")
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn an_installed_copy_is_found_from_the_binary() {
        let tree = Tree::new("installed");
        tree.add_dir("usr/share/tvsignin/site/pkg");
        let hashes = tree.add_file("usr/share/tvsignin/hash.txt");
        let found = SiteFiles::locate_from(None, Some(&tree.bin()));
        assert_eq!(found.root, tree.bin().join("../share/tvsignin/site"));
        assert!(found.root.join("pkg").is_dir());
        assert_eq!(
            found.hash_file.map(|p| p.canonicalize().unwrap()),
            Some(hashes.canonicalize().unwrap())
        );
    }

    #[test]
    fn a_cargo_build_is_found_from_the_binary() {
        let tree = Tree::new("cargo");
        // target/release/tvsignin with target/release/hash.txt and target/site.
        let bin = tree.add_dir("target/release");
        tree.add_dir("target/site/pkg");
        let hashes = tree.add_file("target/release/hash.txt");
        let found = SiteFiles::locate_from(None, Some(&bin));
        assert_eq!(found.root, bin.join("../site"));
        assert_eq!(found.hash_file, Some(hashes));
        assert!(found.hash_file.unwrap().is_absolute());
    }

    #[test]
    fn a_chosen_directory_wins_and_nothing_found_keeps_the_old_default() {
        let tree = Tree::new("chosen");
        tree.add_dir("usr/share/tvsignin/site/pkg");
        let mine = tree.add_dir("srv/kiosk/site");
        let found = SiteFiles::locate_from(Some(mine.clone()), Some(&tree.bin()));
        assert_eq!(found.root, mine);
        assert_eq!(
            found.hash_file, None,
            "no hash.txt anywhere: names carry no hashes"
        );
        let elsewhere = tree.add_dir("opt/bin");
        let found = SiteFiles::locate_from(None, Some(&elsewhere));
        assert_eq!(found.root, PathBuf::from("target/site"));
    }
}
