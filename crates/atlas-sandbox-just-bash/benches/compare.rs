//! Side-by-side benchmark of the same seven commands over a generated 200-file semantic layer:
//! (a) this backend in-process, (b) the `just-bash` npm package 3.4.2 on node with its OverlayFs,
//! (c) real `bash -c` with GNU coreutils (one process per command).
//!
//! Run: `cargo bench -p atlas-sandbox-just-bash --bench compare` (needs node + npm for (b), run
//! `npm ci` in `benches/js` first; (b) and (c) are skipped loudly when absent). The Rust side's
//! peak RSS is measured in a separate process (this binary re-run with `--rss-probe`), reading
//! VmHWM from /proc/self/status.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)] // a bench binary

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use atlas_sandbox_just_bash::{Engine, JustBashConfig};
use atlas_sandbox_sdk::process::{ProcessSpec, run};

const COMMANDS: [&str; 7] = [
    "ls -la",
    "cat entities/orders.yml",
    "grep -rn customer_id .",
    "find . -name '*.yml' | wc -l",
    "head -5 catalog.yml | sort",
    // awk over the 151 entity files, default separator and a multi-character one side by side
    // (issue 14: the `-F` case cost 5x the default one).
    "awk '{print $1}' entities/*.yml | wc -l",
    "awk -F': ' '{print $1}' entities/*.yml | wc -l",
];

/// just-bash's per-command (median, p95), peak RSS in KiB, and last stdout per command.
type NodeResult = (Vec<(f64, f64)>, u64, Vec<String>);

/// A tiny deterministic PRNG (xorshift64*), so every run generates the same layer.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "order",
    "customer",
    "revenue",
    "payment",
    "product",
    "shipment",
    "refund",
    "session",
    "market",
    "channel",
    "region",
    "status",
    "amount",
    "discount",
    "inventory",
    "supplier",
    "category",
    "review",
];
const TYPES: &[&str] = &[
    "integer",
    "string",
    "date",
    "timestamp",
    "numeric",
    "boolean",
];

/// Writes 150 entities, 48 metrics, a catalog and a glossary (about 800 KB) under `root`.
fn generate(root: &Path) -> u64 {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    std::fs::create_dir_all(root.join("entities")).unwrap();
    std::fs::create_dir_all(root.join("metrics")).unwrap();
    let mut total = 0u64;
    let mut names = Vec::new();
    for i in 0..150 {
        let name = format!("{}_{}_{i}", rng.pick(WORDS), rng.pick(WORDS));
        let mut s = String::new();
        let _ = writeln!(
            s,
            "name: {name}\ntable: analytics.{name}\ndomain: {}\nowner: team-{}@example.com",
            rng.pick(WORDS),
            rng.pick(WORDS)
        );
        let _ = writeln!(
            s,
            "description: >-\n  One row per {} {} in the {} domain. Joins to customers on customer_id and to\n  orders on order_id where applicable. Maintained by the {} team; refreshed hourly.",
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.pick(WORDS)
        );
        let _ = writeln!(s, "grain: one row per {}\ncolumns:", rng.pick(WORDS));
        let cols = 6 + rng.below(9);
        for c in 0..cols {
            let col = if c == 0 {
                "id".to_owned()
            } else if c == 1 {
                "customer_id".to_owned()
            } else {
                format!("{}_{}", rng.pick(WORDS), rng.pick(WORDS))
            };
            let _ = writeln!(
                s,
                "  - name: {col}\n    type: {}\n    description: The {} {} of the {} record, as reported by the {} system.",
                rng.pick(TYPES),
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.pick(WORDS)
            );
            if c == 0 {
                let _ = writeln!(s, "    primary_key: true");
            }
            let _ = writeln!(
                s,
                "    sample_values: [{}, {}, {}]",
                rng.below(1000),
                rng.below(1000),
                rng.below(1000)
            );
        }
        let _ = writeln!(
            s,
            "joins:\n  - to: customers\n    on: customer_id = customers.id\n    relationship: many_to_one"
        );
        for _ in 0..rng.below(3) {
            let _ = writeln!(
                s,
                "  - to: {}\n    on: {}_id = {}.id\n    relationship: many_to_one",
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.pick(WORDS)
            );
        }
        // Pad to the size of a realistic entity file.
        while s.len() < 4800 {
            let _ = writeln!(
                s,
                "# note: {} {} {} {} {}",
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.pick(WORDS)
            );
        }
        total += s.len() as u64;
        std::fs::write(root.join(format!("entities/{name}.yml")), &s).unwrap();
        names.push(name);
    }
    // A fixed name the benchmark cats.
    let orders = "name: orders\ntable: shop.orders\ncolumns:\n  - name: order_id\n    type: integer\n  - name: customer_id\n    type: integer\n";
    std::fs::write(root.join("entities/orders.yml"), orders).unwrap();
    total += orders.len() as u64;
    for i in 0..48 {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "name: {}_{}_{i}\ntype: {}\nsql: sum({}.{})\nfilters:\n  - {} = '{}'\ndimensions: [{}, {}, customer_id]\nformat: number",
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.pick(&["sum", "count", "ratio"]),
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.pick(WORDS)
        );
        while s.len() < 1500 {
            let _ = writeln!(
                s,
                "# {} {} {}",
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.pick(WORDS)
            );
        }
        total += s.len() as u64;
        std::fs::write(root.join(format!("metrics/metric_{i}.yml")), &s).unwrap();
    }
    let mut cat = String::from("# Catalog of the generated layer.\nversion: '1.0'\nentities:\n");
    for n in &names {
        let _ = writeln!(cat, "  - name: {n}\n    file: entities/{n}.yml");
    }
    while cat.len() < 14_000 {
        let _ = writeln!(cat, "# {}", rng.pick(WORDS));
    }
    total += cat.len() as u64;
    std::fs::write(root.join("catalog.yml"), &cat).unwrap();
    let mut glossary = String::from("terms:\n");
    for w in WORDS {
        let _ = writeln!(
            glossary,
            "  {w}: The {w} as defined by finance; see customer_id for joins."
        );
    }
    total += glossary.len() as u64;
    std::fs::write(root.join("glossary.yml"), &glossary).unwrap();
    total
}

/// (p50, p95).
fn stats(ms: Vec<f64>) -> (f64, f64) {
    let s = atlas_sandbox_testkit::stats::Summary::of(ms);
    (s.median, s.p95)
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn rss_probe(root: &Path) {
    let engine = Engine::new(Some(root), &JustBashConfig::default()).unwrap();
    for _ in 0..20 {
        for c in COMMANDS {
            engine
                .exec_script(c, "", Duration::from_secs(10), 1 << 20)
                .unwrap();
        }
    }
    println!("{}", vm_hwm_kib());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rss-probe") {
        rss_probe(Path::new(&args[i + 1]));
        return;
    }
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let warmup = 30;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("semantic");
    let bytes = generate(&root);
    println!(
        "generated layer: 200 files, {bytes} bytes at {}",
        root.display()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // (a) this backend, in-process.
    let t0 = Instant::now();
    let engine = Engine::new(Some(&root), &JustBashConfig::default()).unwrap();
    let construct = t0.elapsed();
    // The same engine with the memory accounting off, interleaved run by run with (a) (the
    // order alternating), to price the accounting (issue 11: at most 5%).
    let unmetered = Engine::new(Some(&root), &JustBashConfig::default())
        .unwrap()
        .unmetered_for_bench();
    let mut rust = Vec::new();
    let mut rust_off = Vec::new();
    let mut rust_out = Vec::new();
    let timed = |e: &Engine, c: &str| {
        let t = Instant::now();
        let out = e
            .exec_script(c, "", Duration::from_secs(10), 1 << 20)
            .unwrap();
        (t.elapsed().as_secs_f64() * 1000.0, out)
    };
    for c in COMMANDS {
        for _ in 0..warmup {
            timed(&engine, c);
            timed(&unmetered, c);
        }
        let mut times = Vec::with_capacity(runs);
        let mut times_off = Vec::with_capacity(runs);
        let mut last = None;
        for i in 0..runs {
            let ((on, out), (off, off_out)) = if i % 2 == 0 {
                let off = timed(&unmetered, c);
                (timed(&engine, c), off)
            } else {
                let on = timed(&engine, c);
                (on, timed(&unmetered, c))
            };
            assert_eq!(
                out.stdout, off_out.stdout,
                "{c}: accounting changed the output"
            );
            times.push(on);
            times_off.push(off);
            last = Some(out);
        }
        rust.push(stats(times));
        rust_off.push(stats(times_off));
        rust_out.push(last.map(|o| o.stdout).unwrap_or_default());
    }
    let exe = std::env::current_exe().unwrap();
    let probe = rt
        .block_on(run(&ProcessSpec::new(&exe).arg("--rss-probe").arg(&root)))
        .map(|r| r.output.stdout_str().trim().parse::<u64>().unwrap_or(0))
        .unwrap_or(0);

    // (b) npm just-bash on node.
    let js_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/js");
    let mut js: Option<NodeResult> = None;
    if js_dir.join("node_modules/just-bash").exists() {
        let mut spec = ProcessSpec::new("/usr/bin/env")
            .arg("node")
            .arg(js_dir.join("bench.mjs"))
            .arg(&root)
            .arg(runs.to_string())
            .arg(warmup.to_string())
            .arg(serde_json::to_string(&COMMANDS).unwrap());
        spec.env = vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())];
        spec.timeout = Duration::from_secs(900);
        spec.max_output_bytes = 64 << 20;
        match rt.block_on(run(&spec)) {
            Ok(r) if r.output.exit_code == 0 => {
                let v: serde_json::Value = serde_json::from_slice(&r.output.stdout).unwrap();
                let per: Vec<(f64, f64)> = COMMANDS
                    .iter()
                    .map(|c| {
                        stats(
                            v["commands"][c]
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(|x| x.as_f64().unwrap())
                                .collect(),
                        )
                    })
                    .collect();
                let outs = COMMANDS
                    .iter()
                    .map(|c| v["stdout"][c].as_str().unwrap_or_default().to_owned())
                    .collect();
                js = Some((per, v["max_rss_kib"].as_u64().unwrap_or(0), outs));
            }
            Ok(r) => eprintln!(
                "SKIPPED: just-bash on node: exit {}: {}",
                r.output.exit_code,
                r.output.stderr_str()
            ),
            Err(e) => eprintln!("SKIPPED: just-bash on node: {e}"),
        }
    } else {
        eprintln!(
            "SKIPPED: just-bash on node: run `npm ci` in {}",
            js_dir.display()
        );
    }

    // (c) real bash, one process per command.
    let bash_runs = runs.min(100);
    let mut bash = Vec::new();
    let mut bash_out = Vec::new();
    for c in COMMANDS {
        let mut times = Vec::new();
        let mut last = Vec::new();
        for i in 0..bash_runs + 5 {
            let mut spec = ProcessSpec::new("/bin/bash").arg("-c").arg(c);
            spec.env = vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("LANG".into(), "C.UTF-8".into()),
            ];
            spec.cwd = Some(root.clone());
            let t = Instant::now();
            let r = rt.block_on(run(&spec)).unwrap();
            if i >= 5 {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            last = r.output.stdout;
        }
        bash.push(stats(times));
        bash_out.push(last);
    }

    let mut table = String::new();
    let _ = writeln!(
        table,
        "| command | this backend median (p95) | just-bash 3.4.2 median (p95) | bash -c median (p95) | vs just-bash | vs bash | stdout = bash |"
    );
    let _ = writeln!(table, "|---|---|---|---|---|---|---|");
    for (i, c) in COMMANDS.iter().enumerate() {
        let (rm, rp) = rust[i];
        let (bm, bp) = bash[i];
        let js_cell = js
            .as_ref()
            .map(|(p, _, _)| format!("{:.3} ms ({:.3})", p[i].0, p[i].1))
            .unwrap_or_else(|| "skipped".to_owned());
        let vs_js = js
            .as_ref()
            .map(|(p, _, _)| format!("{:.0}×", p[i].0 / rm))
            .unwrap_or_else(|| "-".to_owned());
        let same = if c.starts_with("ls -la") {
            "names only".to_owned()
        } else {
            (rust_out[i] == bash_out[i]).to_string()
        };
        let _ = writeln!(
            table,
            "| `{}` | {:.3} ms ({:.3}) | {js_cell} | {:.3} ms ({:.3}) | {vs_js} | {:.0}× | {same} |",
            c.replace('|', "\\|"),
            rm,
            rp,
            bm,
            bp,
            bm / rm
        );
    }
    let _ = writeln!(
        table,
        "\nconstruct (open root + overlay): {:.3} ms; runs per command: {runs} (bash: {bash_runs}), warmup {warmup}",
        construct.as_secs_f64() * 1000.0
    );
    let _ = writeln!(
        table,
        "peak RSS: this backend {:.1} MB (separate process, VmHWM, 1 sandbox × 100 execs); just-bash node process {}",
        probe as f64 / 1024.0,
        js.as_ref()
            .map(|(_, k, _)| format!(
                "{:.1} MB (maxRSS of the whole benchmark process)",
                *k as f64 / 1024.0
            ))
            .unwrap_or_else(|| "skipped".to_owned())
    );
    let _ = writeln!(
        table,
        "\n| command | accounting on median (p95) | accounting off median (p95) | cost of the accounting (medians) |\n|---|---|---|---|"
    );
    let (mut sum_on, mut sum_off) = (0.0, 0.0);
    for (i, c) in COMMANDS.iter().enumerate() {
        let ((on, on95), (off, off95)) = (rust[i], rust_off[i]);
        sum_on += on;
        sum_off += off;
        let _ = writeln!(
            table,
            "| `{}` | {on:.3} ms ({on95:.3}) | {off:.3} ms ({off95:.3}) | {:+.1}% |",
            c.replace('|', "\\|"),
            (on / off - 1.0) * 100.0
        );
    }
    let _ = writeln!(
        table,
        "| all seven (sum of medians) | {sum_on:.3} ms | {sum_off:.3} ms | {:+.1}% |",
        (sum_on / sum_off - 1.0) * 100.0
    );
    if let Some((_, _, outs)) = &js {
        for (i, c) in COMMANDS.iter().enumerate() {
            if outs[i].as_bytes() != bash_out[i].as_slice() && !c.starts_with("ls -la") {
                let _ = writeln!(table, "note: just-bash stdout differs from bash for `{c}`");
            }
        }
    }
    println!("\n{table}");
}
