//! Embeds every `schemas/<id>/v<version>/schema.json` and its fixtures in the binary,
//! so a gateway needs no schema files at run time and nothing is fetched.
#![allow(clippy::unwrap_used)] // a failed build-time step should stop the build

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=schemas");
    // The package's folder as cargo names it when it runs this script (not where the
    // script was compiled: a build directory shared by several checkouts may run a script
    // compiled from another).
    let root = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("schemas");
    let mut entries = Vec::new();
    let mut fixtures = Vec::new();
    {
        let dirs = std::fs::read_dir(&root)
            .unwrap_or_else(|e| panic!("cannot read the schemas at {}: {e}", root.display()));
        for dir in dirs.flatten() {
            let id = dir.file_name().to_string_lossy().into_owned();
            let Ok(versions) = std::fs::read_dir(dir.path()) else {
                continue;
            };
            for v in versions.flatten() {
                let name = v.file_name().to_string_lossy().into_owned();
                let Some(Ok(version)) = name.strip_prefix('v').map(str::parse::<u32>) else {
                    continue;
                };
                let file = v.path().join("schema.json");
                if file.is_file() {
                    println!("cargo:rerun-if-changed={}", file.display());
                    entries.push((id.clone(), version, file));
                }
                for expect in ["valid", "invalid"] {
                    let Ok(docs) = std::fs::read_dir(v.path().join(expect)) else {
                        continue;
                    };
                    for doc in docs.flatten() {
                        let path = doc.path();
                        if path.extension().is_some_and(|x| x == "json") {
                            let name = doc.file_name().to_string_lossy().into_owned();
                            fixtures.push((id.clone(), version, expect, name, path));
                        }
                    }
                }
            }
        }
    }
    assert!(
        !entries.is_empty(),
        "no schemas under {}: a gateway built without them refuses every agreement",
        root.display()
    );
    entries.sort();
    let mut out = String::from(
        "/// Every schema under `schemas/`, as (id, version, bytes).\npub static EMBEDDED: &[(&str, u32, &[u8])] = &[\n",
    );
    for (id, version, file) in entries {
        writeln!(
            out,
            "    ({id:?}, {version}, include_bytes!({:?})),",
            file.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    fixtures.sort();
    out.push_str("/// Every fixture, as (schema id, version, \"valid\" or \"invalid\", file name, text).\npub static FIXTURES: &[(&str, u32, &str, &str, &str)] = &[\n");
    for (id, version, expect, name, path) in fixtures {
        writeln!(
            out,
            "    ({id:?}, {version}, {expect:?}, {name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("embedded_schemas.rs");
    std::fs::write(dest, out).unwrap();
}
