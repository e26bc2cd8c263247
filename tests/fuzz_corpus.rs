//! Replays the fuzzer's kept corpus (`tests/fuzz_corpus/decoder/`, minimized from `cargo fuzz` runs, see
//! BENCHMARKS.md / README) through the same checks the fuzz target makes, so its findings stay fixed.

use std::path::Path;

#[test]
fn kept_fuzz_corpus_passes_the_decoder_checks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus/decoder");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory") {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).expect("corpus file");
        let outcome = std::panic::catch_unwind(|| sockchat::codec::check(&data));
        assert!(outcome.is_ok(), "corpus case {} fails the decoder checks", path.display());
        n += 1;
    }
    assert!(n >= 20, "corpus has only {n} cases");
}
