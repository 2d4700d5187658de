//! Replays the checked-in fuzz corpus (`fuzz/corpus/<target>/*`) through the
//! same property checks as the fuzz targets, so that it runs on stable with
//! a plain `cargo test`.

#[path = "fuzz_props/mod.rs"]
mod props;

/// The memory bound of the properties runs here too: `allocation-counter`
/// installs a counting global allocator in this test binary (its `unsafe`
/// is its own; this crate forbids `unsafe` in every target). Its counters
/// are per thread, so tests running in parallel do not disturb one another.
mod memory {
    /// The most bytes held at once on this thread while `f` runs, beyond
    /// what was held before.
    pub(crate) fn peak(f: impl FnOnce()) -> Option<usize> {
        let info = allocation_counter::measure(f);
        Some(usize::try_from(info.bytes_max).expect("fits"))
    }
}

use std::path::Path;

#[test]
fn replay_checked_in_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    dirs.sort();
    let mut seen = Vec::new();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(&(_, check)) = props::TARGETS.iter().find(|(t, _)| *t == name) else {
            // Built without `deflate`: its targets are not compiled in (the
            // replay with --all-features runs them).
            if !cfg!(feature = "deflate") && props::DEFLATE_TARGETS.contains(&&*name) {
                continue;
            }
            panic!("fuzz/corpus/{name}: no such target in tests/fuzz_props");
        };
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "fuzz/corpus/{name} is empty");
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "property failed on {}", file.display());
        }
        seen.push(name);
    }
    // With `deflate`, its targets are replayed like the others (fail closed:
    // each must be listed, and have its corpus).
    if cfg!(feature = "deflate") {
        for target in props::DEFLATE_TARGETS {
            assert!(
                props::TARGETS.iter().any(|(t, _)| t == target),
                "target {target} is not in TARGETS"
            );
        }
    }
    for (target, _) in props::TARGETS {
        assert!(
            seen.iter().any(|s| s == target),
            "no corpus for target {target}"
        );
    }
}
