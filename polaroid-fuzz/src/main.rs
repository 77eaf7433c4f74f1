//! `polaroid-fuzz`: feeds mutated inputs to Polaroid's decoders and reports
//! any panic or slow input.
//!
//! Coverage-guided fuzzers (cargo-fuzz, cargo-afl) need a nightly toolchain
//! or an instrumented build of all of polars; this driver runs on the
//! stable debug build instead. It starts from valid inputs for each target
//! (`polaroid_grpc::fuzzing::seeds`), applies random byte-level mutations
//! (flip, overwrite with boundary values, insert, delete, duplicate,
//! splice two inputs) from a seeded generator, so every run is repeatable,
//! and keeps mutants that were accepted as new seeds. A panic is saved
//! under `target/fuzz-findings/` with its seed and step.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use polaroid_grpc::fuzzing;

#[derive(Parser)]
#[command(about = "Fuzz Polaroid's input decoders with seeded mutations")]
struct Args {
    /// expr (proto -> polars Expr), upload (Arrow IPC), ohlcv (bar options and kernel).
    target: String,
    /// How long to run.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    time: Duration,
    /// Seed of the mutation generator; the same seed replays the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where panicking inputs are written.
    #[arg(long, default_value = "target/fuzz-findings")]
    findings: PathBuf,
    /// Run the target once on this saved input, uncaught (RUST_BACKTRACE=1
    /// shows where a panic comes from), instead of fuzzing.
    #[arg(long)]
    replay: Option<PathBuf>,
}

/// The seeded generator: the same seed replays the same mutations.
struct Rng(fastrand::Rng);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.u64(..)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0.usize(..n.max(1))
    }
}

const BOUNDARIES: &[u64] = &[0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fff_ffff, 0xffff_ffff, i64::MAX as u64, u64::MAX];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(4) {
        let len = input.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            },
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            },
            2 => {
                let value = BOUNDARIES[rng.below(BOUNDARIES.len())].to_le_bytes();
                let width = [1, 2, 4, 8][rng.below(4)];
                let at = rng.below(len + 1).min(len.saturating_sub(width));
                for (k, b) in value.iter().take(width).enumerate() {
                    if let Some(slot) = input.get_mut(at + k) {
                        *slot = *b;
                    }
                }
            },
            3 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                input.splice(at..at, bytes);
            },
            4 if len > 1 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                input.drain(at..at + n);
            },
            5 if len > 1 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                let copy = input[at..at + n].to_vec();
                let to = rng.below(len + 1);
                input.splice(to..to, copy);
            },
            _ => {
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let at = rng.below(len + 1);
                    input.truncate(at);
                    input.extend_from_slice(&other[from..]);
                }
            },
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let run: fn(&[u8]) -> Result<(), String> = match args.target.as_str() {
        "expr" => fuzzing::expr,
        "upload" => fuzzing::upload,
        "ohlcv" => fuzzing::ohlcv,
        other => {
            eprintln!("unknown target {other:?}: expr, upload or ohlcv");
            return ExitCode::from(2);
        },
    };
    if let Some(path) = &args.replay {
        let input = std::fs::read(path).expect("the input to replay");
        println!("{:?}", run(&input));
        return ExitCode::SUCCESS;
    }
    let mut corpus = fuzzing::seeds(&args.target);
    for (i, seed) in corpus.iter().enumerate() {
        if let Err(e) = run(seed) {
            eprintln!("seed {i} is not accepted as valid ({e}); fuzzing from it anyway");
        }
    }
    // Panics are counted and saved, not printed by the default hook each time.
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(fastrand::Rng::with_seed(args.seed));
    let started = Instant::now();
    let (mut execs, mut accepted, mut panics) = (0u64, 0u64, 0u64);
    let mut slowest = (Duration::ZERO, Vec::new());
    let mut errors = std::collections::BTreeMap::<String, u64>::new();
    // Distinct panic messages: how often, and the first input saved.
    let mut found = std::collections::BTreeMap::<String, (u64, PathBuf)>::new();
    while started.elapsed() < args.time {
        let mut input = corpus[rng.below(corpus.len())].clone();
        mutate(&mut rng, &mut input, &corpus);
        let t = Instant::now();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| run(&input)));
        let took = t.elapsed();
        execs += 1;
        if took > slowest.0 {
            slowest = (took, input.clone());
        }
        match outcome {
            Ok(Ok(())) => {
                accepted += 1;
                if corpus.len() < 4096 {
                    corpus.push(input);
                }
            },
            Ok(Err(message)) => {
                let kind: String = message.chars().take(48).collect();
                *errors.entry(kind).or_default() += 1;
            },
            Err(panic) => {
                panics += 1;
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let key: String = message.lines().next().unwrap_or_default().chars().take(80).collect();
                let seen = found.entry(key).or_insert_with(|| {
                    let _ = std::fs::create_dir_all(&args.findings);
                    let path = args.findings.join(format!("{}-seed{}-exec{execs}.bin", args.target, args.seed));
                    let _ = std::fs::write(&path, &input);
                    println!("PANIC after {execs} execs: {message} (input saved to {})", path.display());
                    (0, path)
                });
                seen.0 += 1;
            },
        }
    }
    println!(
        "{}: {execs} execs in {:.0?} ({:.0}/s), {accepted} accepted, {} distinct errors, {panics} panics; \
         slowest input {:.1?} ({} bytes)",
        args.target,
        started.elapsed(),
        execs as f64 / started.elapsed().as_secs_f64(),
        errors.len(),
        slowest.0,
        slowest.1.len()
    );
    for (message, (count, path)) in &found {
        println!("  panic x{count:<6} {message}  (first: {})", path.display());
    }
    if panics > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
