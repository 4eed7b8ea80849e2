//! Checks the browser bundle against the oldest TV engine tvsignin claims to run in full
//! (Chromium 63 class): every `.wasm` in the site's package directory must validate with the
//! WebAssembly MVP feature set alone, and no function that crosses to JavaScript may carry a
//! 64-bit integer (JavaScript engines before Chromium 85 throw on those). Command 2 runs it
//! after the release build, so a toolchain bump cannot quietly bring newer features back.
//!
//! Usage: cargo run --features ssr --example wasm_mvp -- [target/site/pkg]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wasmparser::{
    ExternalKind, FuncType, Parser, Payload, TypeRef, ValType, Validator, WasmFeatures,
};

fn main() -> ExitCode {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/site/pkg"));
    let files = match wasm_files(&dir) {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => {
            eprintln!("FAIL no .wasm file in {}", dir.display());
            return ExitCode::FAILURE;
        }
        Err(error) => {
            eprintln!("FAIL cannot read {}: {error}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    for file in files {
        match check(&file) {
            Ok(summary) => eprintln!("OK   {}: {summary}", file.display()),
            Err(problem) => {
                eprintln!("FAIL {}: {problem}", file.display());
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn wasm_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}

/// The MVP as Chromium 57-73 shipped it: numbers and floats, nothing later (not even
/// importing or exporting mutable globals).
fn mvp() -> WasmFeatures {
    WasmFeatures::FLOATS
}

fn check(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    Validator::new_with_features(mvp())
        .validate_all(&bytes)
        .map_err(|e| format!("not WebAssembly MVP: {e}"))?;
    let boundary = js_boundary_i64(&bytes).map_err(|e| e.to_string())?;
    if !boundary.is_empty() {
        return Err(format!(
            "64-bit integers cross to JavaScript (needs BigInt integration, Chromium 85) in: {}",
            boundary.join(", ")
        ));
    }
    Ok(format!(
        "{} bytes, valid with the MVP feature set only, no 64-bit integers at the JavaScript boundary",
        bytes.len()
    ))
}

/// Names of imported and exported functions whose signature has an i64.
fn js_boundary_i64(bytes: &[u8]) -> wasmparser::Result<Vec<String>> {
    let mut types: Vec<FuncType> = Vec::new();
    let mut functions: Vec<u32> = Vec::new();
    let mut found = Vec::new();
    let has_i64 = |ty: &FuncType| {
        ty.params()
            .iter()
            .chain(ty.results())
            .any(|v| *v == ValType::I64)
    };
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    // MVP modules (validated above) have function types only.
                    for sub in group?.into_types() {
                        types.push(sub.unwrap_func().clone());
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import?;
                    if let TypeRef::Func(index) = import.ty {
                        functions.push(index);
                        if types.get(index as usize).is_some_and(has_i64) {
                            found.push(format!("import {}.{}", import.module, import.name));
                        }
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for index in reader {
                    functions.push(index?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    if export.kind != ExternalKind::Func {
                        continue;
                    }
                    let ty = functions
                        .get(export.index as usize)
                        .and_then(|t| types.get(*t as usize));
                    if ty.is_some_and(has_i64) {
                        found.push(format!("export {}", export.name));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(found)
}
