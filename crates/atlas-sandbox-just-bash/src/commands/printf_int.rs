//! printf's integer arguments, read the way bash reads them.

/// How a printf integer argument read.
pub(super) enum IntArg {
    Ok,
    /// Past 64 bits: clamped, with a warning, and the status stays 0.
    OutOfRange,
    /// Not all of it is a number: an error, status 1, and the number read up to there is used
    /// (`3.5` prints 3, `12abc` 12). The word names the base bash complains about.
    Invalid(&'static str),
}

/// bash reads `%d` arguments with `strtoimax(.., 0)` and `%u/%o/%x` with `strtoumax`: leading
/// blanks, a sign, `0x` hex or `0` octal, then as many digits as there are. Returns the signed
/// and the unsigned reading (each clamped as its C function clamps) and how it went.
pub(super) fn parse_printf_int(a: &str, unsigned: bool) -> (i64, u64, IntArg) {
    let t = a.trim_start_matches([' ', '\t', '\n']);
    if a.is_empty() {
        return (0, 0, IntArg::Ok);
    }
    if let Some(c) = t.strip_prefix('\'').or_else(|| t.strip_prefix('"')) {
        let v = c.chars().next().map(u32::from).unwrap_or(0);
        return (i64::from(v), u64::from(v), IntArg::Ok);
    }
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let b = body.as_bytes();
    let (radix, start, kind) = match b {
        [b'0', b'x' | b'X', d, ..] if d.is_ascii_hexdigit() => (16, 2, "hex "),
        [b'0', ..] => (8, 1, "octal "),
        _ => (10, 0, ""),
    };
    let digits = b[start..]
        .iter()
        .take_while(|c| char::from(**c).is_digit(radix))
        .count();
    // Saturates one past u64::MAX: enough to tell "out of range" for both readings.
    let cap = u128::from(u64::MAX) + 1;
    let mag = b[start..start + digits].iter().fold(0u128, |v, &c| {
        let d = char::from(c).to_digit(radix).unwrap_or(0);
        (v * u128::from(radix) + u128::from(d)).min(cap)
    });
    let mag = i128::try_from(mag).unwrap_or(i128::MAX);
    let signed = if neg { -mag } else { mag };
    let (n, n_over) = match i64::try_from(signed) {
        Ok(n) => (n, false),
        Err(_) => (if neg { i64::MIN } else { i64::MAX }, true),
    };
    let (u, u_over) = match u64::try_from(mag) {
        Ok(m) if neg => (m.wrapping_neg(), false),
        Ok(m) => (m, false),
        Err(_) => (u64::MAX, true),
    };
    let consumed = start + digits;
    let state = if consumed == 0 || consumed < b.len() {
        IntArg::Invalid(if consumed == 0 { "" } else { kind })
    } else if (unsigned && u_over) || (!unsigned && n_over) {
        IntArg::OutOfRange
    } else {
        IntArg::Ok
    };
    (n, u, state)
}
