//! The line matching of GNU diff 3.8, written from its documented design so that `diff` picks the
//! same edit script as GNU where several minimal ones exist (any other choice prints different
//! hunks, which a reader takes as fact).
//!
//! The stages, in GNU's order, each of which changes which script wins a tie:
//! 1. the byte-identical prefix and suffix are set aside, keeping `horizon` lines (the context
//!    size) of each inside the compared region;
//! 2. lines are put in equivalence classes (`-i`, `-b`, `-w` widen them); an incomplete last line
//!    only matches an incomplete one unless white space is ignored;
//! 3. lines with no match in the other file, and provisionally runs of lines with very many
//!    matches, are discarded before the search (they are changes whatever happens);
//! 4. Myers' O(ND) search with the middle-snake split, forward and backward, giving up on
//!    optimality past a cost of 4096 as GNU does;
//! 5. each run of changes is slid down as far as equal lines allow, merged with neighbouring
//!    runs, then moved back to line up with a run in the other file.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::interp::R;

/// Working memory per line of the two inputs, for the caller's budget: line slices, classes,
/// the class table, the search's two diagonal vectors, flags.
pub(crate) const BYTES_PER_LINE: u64 = 160;

/// One hunk of the edit script: `deleted` lines of the old file from `line0`, `inserted` lines of
/// the new file from `line1` (0-based; with nothing deleted `line0` is the line the insertion
/// follows, and likewise for `line1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Change {
    pub line0: usize,
    pub line1: usize,
    pub deleted: usize,
    pub inserted: usize,
}

/// Which white space differences do not count (`-b`, `-w`).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Space {
    #[default]
    Exact,
    /// `-b`: a run of blanks equals any other run; blanks at the end of a line count for nothing.
    Change,
    /// `-w`: blanks count for nothing.
    All,
}

/// How two lines are compared.
#[derive(Clone, Copy, Default)]
pub(crate) struct Equiv {
    pub ignore_case: bool,
    pub space: Space,
}

/// The lines of a text, each with its newline (the last may lack one).
pub(crate) fn lines(text: &[u8]) -> Vec<&[u8]> {
    text.split_inclusive(|&c| c == b'\n').collect()
}

/// `isspace` in the C locale.
pub(crate) fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The form of a line that decides its class: equal keys, equal lines.
fn key(line: &[u8], eq: Equiv) -> Cow<'_, [u8]> {
    if !eq.ignore_case && eq.space == Space::Exact {
        // The newline stays in the key, so an incomplete last line matches only its like.
        return Cow::Borrowed(line);
    }
    let complete = line.last() == Some(&b'\n');
    let body = if complete {
        &line[..line.len() - 1]
    } else {
        line
    };
    let fold = |c: u8| {
        if eq.ignore_case {
            c.to_ascii_lowercase()
        } else {
            c
        }
    };
    let mut k = Vec::with_capacity(line.len() + 1);
    match eq.space {
        Space::Exact => {
            k.extend(body.iter().map(|&c| fold(c)));
            // GNU keeps incomplete lines in a class of their own unless blanks are ignored.
            k.push(if complete { b'\n' } else { 0 });
        }
        Space::All => k.extend(body.iter().filter(|&&c| !is_space(c)).map(|&c| fold(c))),
        Space::Change => {
            let mut i = 0;
            while i < body.len() {
                if is_space(body[i]) {
                    while i < body.len() && is_space(body[i]) {
                        i += 1;
                    }
                    if i < body.len() {
                        k.push(b' ');
                    }
                } else {
                    k.push(fold(body[i]));
                    i += 1;
                }
            }
        }
    }
    Cow::Owned(k)
}

/// Byte offsets where the compared region starts (the same in both files) and where the
/// identical suffix begins in each, after GNU's trimming. `a` and `b` end in a newline (one is
/// added to a text that lacks it, recorded in `missing`).
fn identical_ends(a: &[u8], b: &[u8], missing: [bool; 2], horizon: usize) -> (usize, usize, usize) {
    let (n0, n1) = (a.len(), b.len());
    let mut p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    // An added newline is not part of the common prefix unless both texts lack one.
    if (n0 - usize::from(missing[0]) < p) != (n1 - usize::from(missing[1]) < p) {
        p -= 1;
    }
    // Back to the start of the line, then `horizon` more lines into the compared region.
    let mut hor = horizon;
    while p != 0 {
        if a[p - 1] == b'\n' {
            if hor == 0 {
                break;
            }
            hor -= 1;
        }
        p -= 1;
    }
    let (mut s0, mut s1) = (n0, n1);
    if missing[0] == missing[1] {
        let mut beg0 = p + n0.saturating_sub(n1);
        while s0 != beg0 {
            s0 -= 1;
            s1 -= 1;
            if a[s0] != b[s1] {
                s0 += 1;
                s1 += 1;
                beg0 = s0;
                break;
            }
        }
        let at_line_start = (s0 == 0 || a[s0 - 1] == b'\n') && (s1 == 0 || b[s1 - 1] == b'\n');
        // A partial line goes back to the compared region, then `horizon` whole lines.
        let mut i = horizon.saturating_add(usize::from(!at_line_start));
        while i > 0 && s0 != n0 {
            i -= 1;
            while s0 < n0 {
                s0 += 1;
                if a[s0 - 1] == b'\n' {
                    break;
                }
            }
        }
        s1 += s0 - beg0;
    }
    (p, s0, s1)
}

/// Lines of file `f` that take part in the search, as their classes, and their real indices.
struct Side {
    undiscarded: Vec<usize>,
    real: Vec<usize>,
}

/// GNU's `discard_confusing_lines`: returns per file which compared lines are left out of the
/// search (and so marked changed).
fn discards(equivs: [&[usize]; 2], nclasses: usize) -> [Vec<u8>; 2] {
    let mut count = [vec![0usize; nclasses], vec![0usize; nclasses]];
    for f in 0..2 {
        for &e in equivs[f] {
            count[f][e] += 1;
        }
    }
    // 0: keep; 1: discard (no match in the other file); 2: provisionally discard (many matches).
    let mut out = [vec![0u8; equivs[0].len()], vec![0u8; equivs[1].len()]];
    for f in 0..2 {
        let end = equivs[f].len();
        // About the square root of the size: lines matching more often are provisional.
        let many = if end < 64 {
            5
        } else {
            5usize << ((end.ilog2() >> 1) - 3)
        };
        for (i, &e) in equivs[f].iter().enumerate() {
            let n = count[1 - f][e];
            if n == 0 {
                out[f][i] = 1;
            } else if n > many {
                out[f][i] = 2;
            }
        }
    }
    for d in &mut out {
        cancel_provisional(d);
    }
    out
}

/// Keeps a provisional discard only inside a run of discards that starts and ends with a line
/// matching nothing, and only where such lines are dense, as GNU does.
fn cancel_provisional(d: &mut [u8]) {
    let end = d.len();
    let mut i = 0;
    while i < end {
        if d[i] == 2 {
            d[i] = 0;
        } else if d[i] != 0 {
            let mut provisional = 0;
            let mut j = i;
            while j < end && d[j] != 0 {
                if d[j] == 2 {
                    provisional += 1;
                }
                j += 1;
            }
            while j > i && d[j - 1] == 2 {
                j -= 1;
                d[j] = 0;
                provisional -= 1;
            }
            let length = j - i;
            if length >> 2 < provisional {
                for x in &mut d[i..j] {
                    if *x == 2 {
                        *x = 0;
                    }
                }
            } else {
                let minimum: usize = if length < 4 {
                    2
                } else {
                    (1usize << ((length.ilog2() >> 1) - 1)) + 1
                };
                // Cancel every subrun of `minimum` or more provisionals.
                let mut consec = 0usize;
                let mut k: isize = 0;
                while (k as usize) < length {
                    let at = i + k as usize;
                    if d[at] != 2 {
                        consec = 0;
                    } else {
                        consec += 1;
                        if consec == minimum {
                            k -= consec as isize;
                        } else if consec > minimum {
                            d[at] = 0;
                        }
                    }
                    k += 1;
                }
                // From each end, provisionals before three discards in a row (or before the
                // first discard eight lines in) are kept.
                let mut consec = 0;
                for k in 0..length {
                    if k >= 8 && d[i + k] == 1 {
                        break;
                    }
                    if d[i + k] == 2 {
                        consec = 0;
                        d[i + k] = 0;
                    } else if d[i + k] == 0 {
                        consec = 0;
                    } else {
                        consec += 1;
                    }
                    if consec == 3 {
                        break;
                    }
                }
                i += length - 1;
                let mut consec = 0;
                for k in 0..length {
                    let at = i - k;
                    if k >= 8 && d[at] == 1 {
                        break;
                    }
                    if d[at] == 2 {
                        consec = 0;
                        d[at] = 0;
                    } else if d[at] == 0 {
                        consec = 0;
                    } else {
                        consec += 1;
                    }
                    if consec == 3 {
                        break;
                    }
                }
            }
        }
        i += 1;
    }
}

/// GNU gives up on a minimal script past this cost (for inputs under millions of lines).
const TOO_EXPENSIVE: isize = 4096;

/// The search state: the two class vectors and the furthest-reaching x per diagonal.
struct Search<'a> {
    xv: &'a [usize],
    yv: &'a [usize],
    fd: Vec<isize>,
    bd: Vec<isize>,
    /// Index of diagonal 0 in `fd`/`bd`.
    zero: isize,
    too_expensive: isize,
}

/// A split point and whether each half still needs a minimal script.
struct Partition {
    xmid: isize,
    ymid: isize,
    lo_minimal: bool,
    hi_minimal: bool,
}

impl Search<'_> {
    fn f(&self, d: isize) -> isize {
        self.fd[(d + self.zero) as usize]
    }
    fn b(&self, d: isize) -> isize {
        self.bd[(d + self.zero) as usize]
    }
    fn set_f(&mut self, d: isize, v: isize) {
        let z = self.zero;
        self.fd[(d + z) as usize] = v;
    }
    fn set_b(&mut self, d: isize, v: isize) {
        let z = self.zero;
        self.bd[(d + z) as usize] = v;
    }
    fn eq(&self, x: isize, y: isize) -> bool {
        self.xv[x as usize] == self.yv[y as usize]
    }

    /// The middle snake of the region: breadth-first from both corners until the searches meet
    /// (the first and last elements of the region differ).
    fn diag(
        &mut self,
        (xoff, xlim, yoff, ylim): (isize, isize, isize, isize),
        find_minimal: bool,
        tick: &mut dyn FnMut() -> R<()>,
    ) -> R<Partition> {
        let (dmin, dmax) = (xoff - ylim, xlim - yoff);
        let (fmid, bmid) = (xoff - yoff, xlim - ylim);
        let (mut fmin, mut fmax, mut bmin, mut bmax) = (fmid, fmid, bmid, bmid);
        let odd = (fmid - bmid) & 1 != 0;
        self.set_f(fmid, xoff);
        self.set_b(bmid, xlim);
        let mut c: isize = 1;
        loop {
            if c % 32 == 0 {
                tick()?;
            }
            if fmin > dmin {
                fmin -= 1;
                self.set_f(fmin - 1, -1);
            } else {
                fmin += 1;
            }
            if fmax < dmax {
                fmax += 1;
                self.set_f(fmax + 1, -1);
            } else {
                fmax -= 1;
            }
            let mut d = fmax;
            while d >= fmin {
                let (tlo, thi) = (self.f(d - 1), self.f(d + 1));
                let x0 = if tlo < thi { thi } else { tlo + 1 };
                let (mut x, mut y) = (x0, x0 - d);
                while x < xlim && y < ylim && self.eq(x, y) {
                    x += 1;
                    y += 1;
                }
                self.set_f(d, x);
                if odd && bmin <= d && d <= bmax && self.b(d) <= x {
                    return Ok(Partition {
                        xmid: x,
                        ymid: y,
                        lo_minimal: true,
                        hi_minimal: true,
                    });
                }
                d -= 2;
            }
            if bmin > dmin {
                bmin -= 1;
                self.set_b(bmin - 1, isize::MAX);
            } else {
                bmin += 1;
            }
            if bmax < dmax {
                bmax += 1;
                self.set_b(bmax + 1, isize::MAX);
            } else {
                bmax -= 1;
            }
            let mut d = bmax;
            while d >= bmin {
                let (tlo, thi) = (self.b(d - 1), self.b(d + 1));
                let x0 = if tlo < thi { tlo } else { thi - 1 };
                let (mut x, mut y) = (x0, x0 - d);
                while xoff < x && yoff < y && self.eq(x - 1, y - 1) {
                    x -= 1;
                    y -= 1;
                }
                self.set_b(d, x);
                if !odd && fmin <= d && d <= fmax && x <= self.f(d) {
                    return Ok(Partition {
                        xmid: x,
                        ymid: y,
                        lo_minimal: true,
                        hi_minimal: true,
                    });
                }
                d -= 2;
            }
            if !find_minimal && c >= self.too_expensive {
                return Ok(self.give_up((xoff, xlim, yoff, ylim), (fmin, fmax, bmin, bmax)));
            }
            c += 1;
        }
    }

    /// Past the cost limit: the furthest forward or backward point, whichever got further.
    fn give_up(
        &self,
        (xoff, xlim, yoff, ylim): (isize, isize, isize, isize),
        (fmin, fmax, bmin, bmax): (isize, isize, isize, isize),
    ) -> Partition {
        let (mut fxybest, mut fxbest) = (-1, 0);
        let mut d = fmax;
        while d >= fmin {
            let mut x = self.f(d).min(xlim);
            let mut y = x - d;
            if ylim < y {
                x = ylim + d;
                y = ylim;
            }
            if fxybest < x + y {
                fxybest = x + y;
                fxbest = x;
            }
            d -= 2;
        }
        let (mut bxybest, mut bxbest) = (isize::MAX, 0);
        let mut d = bmax;
        while d >= bmin {
            let mut x = self.b(d).max(xoff);
            let mut y = x - d;
            if y < yoff {
                x = yoff + d;
                y = yoff;
            }
            if x + y < bxybest {
                bxybest = x + y;
                bxbest = x;
            }
            d -= 2;
        }
        if (xlim + ylim) - bxybest < fxybest - (xoff + yoff) {
            Partition {
                xmid: fxbest,
                ymid: fxybest - fxbest,
                lo_minimal: true,
                hi_minimal: false,
            }
        } else {
            Partition {
                xmid: bxbest,
                ymid: bxybest - bxbest,
                lo_minimal: false,
                hi_minimal: true,
            }
        }
    }
}

/// Divide and conquer over the undiscarded lines, marking changed lines (real indices).
fn compare(
    sides: &[Side; 2],
    changed: &mut [Vec<bool>; 2],
    tick: &mut dyn FnMut() -> R<()>,
) -> R<()> {
    let (n0, n1) = (sides[0].undiscarded.len(), sides[1].undiscarded.len());
    let diags = n0 + n1 + 3;
    let mut s = Search {
        xv: &sides[0].undiscarded,
        yv: &sides[1].undiscarded,
        fd: vec![0; diags],
        bd: vec![0; diags],
        zero: n1 as isize + 1,
        too_expensive: TOO_EXPENSIVE.max(1 << ((diags.ilog2() >> 1) + 1)),
    };
    // An explicit stack: the recursion can be as deep as the number of changes.
    let mut stack = vec![(0isize, n0 as isize, 0isize, n1 as isize, false)];
    while let Some((mut xoff, mut xlim, mut yoff, mut ylim, minimal)) = stack.pop() {
        tick()?;
        while xoff < xlim && yoff < ylim && s.eq(xoff, yoff) {
            xoff += 1;
            yoff += 1;
        }
        while xoff < xlim && yoff < ylim && s.eq(xlim - 1, ylim - 1) {
            xlim -= 1;
            ylim -= 1;
        }
        if xoff == xlim {
            for y in yoff..ylim {
                changed[1][sides[1].real[y as usize] + 1] = true;
            }
        } else if yoff == ylim {
            for x in xoff..xlim {
                changed[0][sides[0].real[x as usize] + 1] = true;
            }
        } else {
            let p = s.diag((xoff, xlim, yoff, ylim), minimal, tick)?;
            stack.push((p.xmid, xlim, p.ymid, ylim, p.hi_minimal));
            stack.push((xoff, p.xmid, yoff, p.ymid, p.lo_minimal));
        }
    }
    Ok(())
}

/// Reads a flag of a changed vector stored with a false sentinel at each end (index -1 and n).
fn at(v: &[bool], k: isize) -> bool {
    usize::try_from(k + 1)
        .ok()
        .and_then(|u| v.get(u))
        .copied()
        .unwrap_or(false)
}

fn set(v: &mut [bool], k: isize, val: bool) {
    if let Some(slot) = usize::try_from(k + 1).ok().and_then(|u| v.get_mut(u)) {
        *slot = val;
    }
}

/// GNU's `shift_boundaries` for one file: slide each run of changes back over equal lines
/// (merging with earlier runs), then forward as far as it goes (merging with later ones), then
/// back again to end where a run of the other file ends, if it passed one.
fn shift_boundaries(
    changed: &mut [bool],
    other: &[bool],
    equivs: &[usize],
    tick: &mut dyn FnMut() -> R<()>,
) -> R<()> {
    let i_end = equivs.len() as isize;
    let eqv = |k: isize| equivs[k as usize];
    let (mut i, mut j) = (0isize, 0isize);
    loop {
        tick()?;
        while i < i_end && !at(changed, i) {
            while at(other, j) {
                j += 1;
            }
            j += 1;
            i += 1;
        }
        if i == i_end {
            break;
        }
        let mut start = i;
        i += 1;
        while at(changed, i) {
            i += 1;
        }
        while at(other, j) {
            j += 1;
        }
        let mut corresponding;
        loop {
            let runlength = i - start;
            while start != 0 && eqv(start - 1) == eqv(i - 1) {
                start -= 1;
                set(changed, start, true);
                i -= 1;
                set(changed, i, false);
                while at(changed, start - 1) {
                    start -= 1;
                }
                j -= 1;
                while at(other, j) {
                    j -= 1;
                }
            }
            corresponding = if at(other, j - 1) { i } else { i_end };
            while i != i_end && eqv(start) == eqv(i) {
                set(changed, start, false);
                start += 1;
                set(changed, i, true);
                i += 1;
                while at(changed, i) {
                    i += 1;
                }
                j += 1;
                while at(other, j) {
                    corresponding = i;
                    j += 1;
                }
            }
            if runlength == i - start {
                break;
            }
        }
        while corresponding < i {
            start -= 1;
            set(changed, start, true);
            i -= 1;
            set(changed, i, false);
            j -= 1;
            while at(other, j) {
                j -= 1;
            }
        }
    }
    Ok(())
}

/// The edit script from `a` to `b`, as GNU diff would find it with `horizon` lines of context.
pub(crate) fn script(
    a: &[u8],
    b: &[u8],
    horizon: usize,
    eq: Equiv,
    tick: &mut dyn FnMut() -> R<()>,
) -> R<Vec<Change>> {
    let missing = [
        !a.is_empty() && !a.ends_with(b"\n"),
        !b.is_empty() && !b.ends_with(b"\n"),
    ];
    let complete = |t: &[u8], m: bool| -> Vec<u8> {
        let mut v = t.to_vec();
        if m {
            v.push(b'\n');
        }
        v
    };
    let (ca, cb) = (complete(a, missing[0]), complete(b, missing[1]));
    let (pre, s0, s1) = identical_ends(&ca, &cb, missing, horizon);
    tick()?;
    let prefix_lines = ca[..pre].iter().filter(|&&c| c == b'\n').count();
    let (la, lb) = (lines(a), lines(b));
    let mid = [
        ca[pre..s0].iter().filter(|&&c| c == b'\n').count(),
        cb[pre..s1].iter().filter(|&&c| c == b'\n').count(),
    ];
    let texts = [&la, &lb];

    // Classes: equal keys share a number.
    let mut classes: HashMap<Cow<'_, [u8]>, usize> = HashMap::new();
    let mut equivs: [Vec<usize>; 2] = [Vec::with_capacity(mid[0]), Vec::with_capacity(mid[1])];
    for f in 0..2 {
        for (n, line) in texts[f][prefix_lines..prefix_lines + mid[f]]
            .iter()
            .enumerate()
        {
            if n % 4096 == 0 {
                tick()?;
            }
            let next = classes.len();
            let c = *classes.entry(key(line, eq)).or_insert(next);
            equivs[f].push(c);
        }
    }
    let nclasses = classes.len();
    drop(classes);

    let disc = discards([&equivs[0], &equivs[1]], nclasses);
    // Flags with a false sentinel before and after.
    let mut changed = [vec![false; mid[0] + 2], vec![false; mid[1] + 2]];
    let mut sides: [Side; 2] = [
        Side {
            undiscarded: Vec::new(),
            real: Vec::new(),
        },
        Side {
            undiscarded: Vec::new(),
            real: Vec::new(),
        },
    ];
    for f in 0..2 {
        for (i, &e) in equivs[f].iter().enumerate() {
            if disc[f][i] == 0 {
                sides[f].undiscarded.push(e);
                sides[f].real.push(i);
            } else {
                changed[f][i + 1] = true;
            }
        }
    }
    compare(&sides, &mut changed, tick)?;
    drop(sides);
    {
        let [c0, c1] = &mut changed;
        shift_boundaries(c0, c1, &equivs[0], tick)?;
        shift_boundaries(c1, c0, &equivs[1], tick)?;
    }

    let mut out = Vec::new();
    let (n0, n1) = (mid[0] as isize, mid[1] as isize);
    let (mut i0, mut i1) = (0isize, 0isize);
    while i0 < n0 || i1 < n1 {
        if at(&changed[0], i0) || at(&changed[1], i1) {
            let (l0, l1) = (i0, i1);
            while at(&changed[0], i0) {
                i0 += 1;
            }
            while at(&changed[1], i1) {
                i1 += 1;
            }
            out.push(Change {
                line0: prefix_lines + l0 as usize,
                line1: prefix_lines + l1 as usize,
                deleted: (i0 - l0) as usize,
                inserted: (i1 - l1) as usize,
            });
        }
        i0 += 1;
        i1 += 1;
    }
    Ok(out)
}
