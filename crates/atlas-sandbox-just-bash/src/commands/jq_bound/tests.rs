//! The bound on its own: ordinary filters pass, blow-ups are refused.

use super::*;

fn input(s: f64) -> V {
    V {
        s,
        str: 20.0,
        num: 100.0,
        shape: None,
    }
}

fn ok(code: &str) -> bool {
    check(code, input(100_000.0), 5.0, &[], 1e7, 64e6, 1.0).is_ok()
}

#[test]
fn ordinary_filters_pass() {
    for f in [
        ".",
        ".[] | .name",
        "[.[] | select(.x > 1)] | length",
        "map(.a) | add",
        "to_entries | map(\"\\(.key)=\\(.value)\") | join(\",\")",
        ".a * .b",
        "keys",
        ".metrics[] | {name, sql: .sql}",
        ".a |= . + 1",
        "[paths]",
        "@csv",
        ".[] | .label | ascii_downcase | gsub(\" \"; \"_\")",
    ] {
        assert!(ok(f), "{f} refused");
    }
}

#[test]
fn blowups_are_refused() {
    for f in [
        "\"x\" * 1e9",
        "[(1,2,3,4,5,6,7,8,9,10)|(1,2,3,4,5,6,7,8,9,10)|(1,2,3,4,5,6,7,8,9,10)|(1,2,3,4,5,6,7,8,9,10)|(1,2,3,4,5,6,7,8,9,10)|(1,2,3,4,5,6,7,8,9,10)|(1,2,3,4,5,6,7,8,9,10)|(1,2,3,4,5,6,7,8,9,10)]",
        "[.[] as $a | .[] as $b | .[] as $c | [$a, $b, $c]]",
        ".[100000000] = 1",
        "\"x\" | . + . | . + . | . * 1000000 | . * 1000",
        "[.[] | tostring] | join(\",\") | gsub(\"\"; \"xxxxxxxxxxxxxxxx\") | gsub(\"\"; \"xxxxxxxxxxxxxxxx\")",
    ] {
        assert!(!ok(f), "{f} passed");
    }
}

/// 200 records of about 300 bytes, 5 fields each, numbers up to 300: what `Measure` gives
/// for such an input.
fn records() -> V {
    let mut items = [40.0; LEVELS];
    items[0] = 300.0;
    let mut fan = [0.0; LEVELS];
    fan[0] = 200.0;
    fan[1] = 5.0;
    let mut shape = Shape { items, fan };
    shape.settle();
    V {
        s: 200.0 * 300.0,
        str: 20.0,
        num: 300.0,
        shape: Some(shape),
    }
}

fn on_records(code: &str) -> Result<(), TooBig> {
    check(code, records(), 3.0, &[], 1e7, 64e6, 1.0)
}

#[test]
fn folds_bind_one_record_not_the_whole_input() {
    for f in [
        "reduce .[] as $r ({}; .[$r.name] = $r.amount)",
        "reduce .[] as $x ([]; . + [$x])",
        "[foreach .[] as $x (0; . + 1; [$x.id, .])]",
        "reduce .[] as {id: $i} (0; . + $i)",
        "reduce inputs as $x (0; . + $x.n)",
    ] {
        let r = on_records(f);
        assert!(r.is_ok(), "{f}: {r:?}");
    }
    // Without the shape, each record is bounded by the whole input (and the input holds up to
    // 1875 values): past the budget.
    let plain = V {
        shape: None,
        ..records()
    };
    let r = check(
        "reduce .[] as $x ([]; . + [$x])",
        plain,
        3.0,
        &[],
        1e7,
        16e6,
        1.0,
    );
    assert!(r.is_err(), "{r:?}");
}

#[test]
fn shapes_do_not_hide_growth() {
    for f in [
        // `walk` reaches every string inside a record, not one per record.
        "walk(if type == \"string\" then . * 10000 else . end)",
        // The accumulator doubles: 2^200 records.
        "reduce .[] as $x (.; . + .)",
        // A fold that grows by six whole inputs each step: 72 MB.
        ". as $all | reduce .[] as $x ([]; . + [$all, $all, $all, $all, $all, $all])",
        // A cross product of records.
        "[.[] as $a | .[] as $b | .[] as $c | [$a, $b, $c]]",
        // The accumulator holds itself twice at each step.
        "reduce .[] as $x ([]; . + [., .])",
    ] {
        assert!(on_records(f).is_err(), "{f} passed");
    }
}

#[test]
fn recursion_is_bounded_by_depth_times_input() {
    // A 1 MB input 100 levels deep: `[..]` really holds about 100 MB.
    let deep = check("[..]", input(1e6), 100.0, &[], 1e7, 64e6, 1.0);
    assert!(matches!(deep, Err(TooBig::Bytes(_))), "{deep:?}");
    assert!(check("[..]", input(1e6), 5.0, &[], 1e7, 64e6, 1.0).is_ok());
    // It was bound as one whole input per value yielded: 3125 x 100 kB.
    let f = "[.. | objects | .name? // empty] | length";
    let r = check(f, input(1e5), 5.0, &[], 1e9, 64e6, 1.0);
    assert!(r.is_ok(), "{r:?}");
}
