//! Micro-benchmarks for the per-line work of a server: decoding what `read` returned, and formatting a
//! message for the terminal (`format_line`, the printer's cached path, a batch of lines) and for `--json`
//! (`to_json`).
//!
//! `cargo bench --bench codec`; figures and the machine are in BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sockchat::codec::{LineDecoder, push_sanitized};
use sockchat::headless::{Format, Printer};
use sockchat::model::{self, Event, LineBatch, Message, Origin, Peer};

/// Reads of this size are what the server's reader asks for.
const CHUNK: usize = 16 * 1024;
const LINE: usize = 64;

/// `n` lines of exactly 64 bytes, newline included; `dirty` puts an ANSI colour sequence and a tab in each.
fn lines(n: usize, dirty: bool) -> Vec<u8> {
    let mut v = Vec::with_capacity(n * LINE);
    for i in 0..n {
        let start = v.len();
        if dirty {
            v.extend_from_slice(format!("\x1b[31mred\x1b[0m\tline {i:07} ").as_bytes());
        } else {
            v.extend_from_slice(format!("client 42 says line {i:07} ").as_bytes());
        }
        while v.len() - start < LINE - 1 {
            v.push(b'x');
        }
        v.push(b'\n');
    }
    v
}

fn decoder(c: &mut Criterion) {
    let mut g = c.benchmark_group("decoder");
    for (name, dirty) in [("64B_lines_16KiB_reads", false), ("64B_lines_with_controls_16KiB_reads", true)] {
        let data = lines(16 * 1024, dirty); // 1 MiB
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut d = LineDecoder::new(sockchat::codec::DEFAULT_MAX_LINE);
                let mut n = 0usize;
                for chunk in data.chunks(CHUNK) {
                    d.feed(black_box(chunk), &mut |l| {
                        n += l.text.len();
                        drop(black_box(l));
                    });
                }
                n
            });
        });
    }
    // The server's path: raw lines sanitized straight into one batch per read (`engine/server.rs`).
    let data = lines(16 * 1024, false);
    g.bench_function("64B_lines_16KiB_reads_into_batches", |b| {
        let from = Arc::new(Peer::new(7, "127.0.0.1:51234".parse().expect("address")));
        b.iter(|| {
            let mut d = LineDecoder::new(sockchat::codec::DEFAULT_MAX_LINE);
            let mut n = 0usize;
            for chunk in data.chunks(CHUNK) {
                let mut batch =
                    LineBatch::new(0, model::now(), from.clone(), false).with_capacity(CHUNK, 256);
                d.feed_raw(black_box(chunk), &mut |line, cut| {
                    batch.push_with(cut, |text| push_sanitized(text, line));
                });
                n += batch.len();
                drop(black_box(batch));
            }
            n
        });
    });
    g.finish();
}

fn message(text: &str) -> Event {
    let mut p = Peer::new(7, "127.0.0.1:51234".parse().expect("address"));
    p.host = Some("localhost".into());
    p.name = Some("ann".into());
    let origin = Origin::Remote { from: Arc::new(p), relayed: false };
    Event::Message(Message {
        seq: 1,
        time: model::now(),
        origin,
        text: text.into(),
        truncated: false,
        private: false,
    })
}

fn formatting(c: &mut Criterion) {
    let ev = message(&"x".repeat(LINE - 1));
    let none = |_| None;
    let mut g = c.benchmark_group("format");
    g.throughput(Throughput::Elements(1));
    g.bench_function("format_line", |b| b.iter(|| model::format_line(black_box(&ev), &none)));
    g.bench_function("printer_text", |b| {
        let mut p = Printer::new(Format::Text);
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            out.clear();
            p.write(&mut out, black_box(&ev)).expect("write to a Vec");
            out.len()
        });
    });
    g.bench_function("to_json_string", |b| b.iter(|| model::to_json(black_box(&ev)).to_string()));
    g.finish();

    // A read's worth of lines printed as one batch, as the terminal mode does under load.
    let Event::Message(m) = &ev else { return };
    let Origin::Remote { from, .. } = &m.origin else { return };
    let mut batch = LineBatch::new(1, m.time, from.clone(), false);
    for _ in 0..256 {
        batch.push(&m.text, false);
    }
    let mut g = c.benchmark_group("format");
    g.throughput(Throughput::Elements(256));
    g.bench_function("printer_batch_of_256", |b| {
        let mut p = Printer::new(Format::Text);
        let mut out = Vec::with_capacity(256 * 128);
        b.iter(|| {
            out.clear();
            p.write_lines(&mut out, black_box(&batch)).expect("write to a Vec");
            out.len()
        });
    });
    g.finish();
}

criterion_group!(benches, decoder, formatting);
criterion_main!(benches);
