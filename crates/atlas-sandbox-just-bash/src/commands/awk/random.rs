//! gawk's `rand()`: scripts that seed with `srand(n)` (or not at all) get the very numbers gawk
//! prints, so a sample or a shuffle picks the same lines. gawk ships its own BSD `random(3)`:
//! the additive feedback generator of degree 63 (the `TYPE_4` its 256-byte state selects),
//! seeded by Park–Miller steps, warmed up by 630 draws, with every draw passed through a
//! 512-slot shuffle table; `rand()` joins two draws into one double.

const DEG: usize = 63;
const SEP: usize = 1;
const SHUFFLE: usize = 512;

pub(super) struct GawkRandom {
    state: [u32; DEG],
    front: usize,
    rear: usize,
    table: Vec<u32>,
    /// The table is refilled on the first draw after a seeding.
    refill: bool,
    last: u32,
}

/// One Park–Miller step on the signed 32-bit value, in Schrage's overflow-free form.
fn park_miller(x: u32) -> u32 {
    let x = x as i32;
    let x = if x == 0 { 123_459_876 } else { x };
    let (hi, lo) = (x / 127_773, x % 127_773);
    let v = 16_807 * lo - 2_836 * hi;
    (if v < 0 { v + 0x7fff_ffff } else { v }) as u32
}

impl GawkRandom {
    /// The generator before any `srand`: gawk seeds it with 1.
    pub(super) fn new() -> Self {
        let mut r = GawkRandom {
            state: [0; DEG],
            front: SEP,
            rear: 0,
            table: vec![0; SHUFFLE],
            refill: true,
            last: 0,
        };
        r.seed(1);
        r
    }

    pub(super) fn seed(&mut self, seed: u32) {
        self.state[0] = seed;
        for i in 1..DEG {
            self.state[i] = park_miller(self.state[i - 1]);
        }
        self.front = SEP;
        self.rear = 0;
        self.refill = true;
        // gawk's warm-up calls the shuffled `random()`, so it fills the table too.
        for _ in 0..10 * DEG {
            self.draw();
        }
    }

    fn step(&mut self) -> u32 {
        let (f, r) = (self.front, self.rear);
        self.state[f] = self.state[f].wrapping_add(self.state[r]);
        let out = (self.state[f] >> 1) & 0x7fff_ffff;
        self.front += 1;
        self.rear += 1;
        if self.front >= DEG {
            self.front = 0;
        } else if self.rear >= DEG {
            self.rear = 0;
        }
        out
    }

    fn draw(&mut self) -> u32 {
        if self.refill {
            for k in 0..SHUFFLE {
                self.table[k] = self.step();
            }
            self.last = self.step();
            self.refill = false;
        }
        let fresh = self.step();
        let k = self.last as usize & (SHUFFLE - 1);
        self.last = self.table[k];
        self.table[k] = fresh;
        self.last
    }

    /// `rand()`: in `[0, 1)`.
    pub(super) fn next(&mut self) -> f64 {
        const DIV: f64 = 2_147_483_648.0;
        loop {
            let d1 = f64::from(self.draw());
            let d2 = f64::from(self.draw());
            let v = 0.5 + ((d1 / DIV + d2) / DIV) - 0.5;
            if v != 1.0 {
                return v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::GawkRandom;

    #[test]
    fn the_numbers_gawk_prints() {
        // gawk 5.2.1: `srand(n); printf "%.17g", rand()`.
        let mut r = GawkRandom::new();
        assert_eq!(format!("{:.17}", r.next()), "0.92404581539912467");
        r.seed(42);
        let v: Vec<String> = (0..3).map(|_| format!("{:.17}", r.next())).collect();
        assert_eq!(
            v,
            [
                "0.24632032657454306",
                "0.39614327393255944",
                "0.95507481604080224"
            ]
        );
        r.seed(0);
        assert_eq!(format!("{:.17}", r.next()), "0.85556592365572337");
    }
}
