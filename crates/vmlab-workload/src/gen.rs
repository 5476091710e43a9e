//! Seeded synthetic workloads: [`GenSpec`], a generator described by a
//! command-line spec such as `zipf:pages=1000000,alpha=1.0,n=50000000,seed=1`,
//! and [`Generator`], the deterministic, constant-memory
//! `Iterator<Item = MemRef>` it builds. Same spec, same stream, bit for bit.
//!
//! Kinds (required keys first; every kind also takes `seed` (default 1)
//! and `base`, the first address (default 0x10000000)):
//! - `seq:pages,n[,size,write,page]`: consecutive `size`-byte accesses
//!   (default 8) sweeping `pages` pages, wrapping around.
//! - `stride:pages,stride,n[,size,write,page]`: every `stride` bytes,
//!   wrapping within `pages` pages.
//! - `uniform:pages,n[,write,page]`: a page chosen uniformly each time.
//! - `zipf:pages,alpha,n[,write,page]`: page of rank k (page k - 1) with
//!   probability proportional to 1/k^alpha.
//! - `loop:pages,n[,write,page]`: pages 0, 1, ..., pages - 1, 0, 1, ...
//!   (the cyclic pattern that defeats LRU when it does not fit).
//! - `phases:pages,ws,phase,n[,write,page]`: working-set phases: each run
//!   of `phase` references is uniform over a window of `ws` pages placed at
//!   random within `pages`.
//! - `matmul:dim[,order,tile,elem,page,n]`: C = A x B over row-major
//!   `dim` x `dim` arrays of `elem`-byte elements (default 8), each array
//!   page-aligned after the previous; `order` is `naive` (i, j, k: for each
//!   k read `A[i][k]` then `B[k][j]`; then write `C[i][j]`), `transposed` (B
//!   stored transposed, read as `B[j][k]`) or `tiled` (tiles of `tile`
//!   (default 32) in i, j, k order; `C[i][j]` is read before and written
//!   after each k tile). Ends after the product unless `n` stops it sooner.
//! - `list:nodes,n[,node,page]`: chasing a linked list whose `nodes` nodes
//!   of `node` bytes (default 64) form one random cycle; each step reads a
//!   node's next pointer.
//! - `stack:depth,n[,size,page]`: a stack of at most `depth` words growing
//!   down from `base + depth * size`: push (write) or pop (read), at
//!   random.
//! - `heap:objects,n[,obj,write,page]`: `objects` live objects of `obj`
//!   bytes (default 64) in an arena four times their total size, bump
//!   allocated with wrap-around; each step either replaces a random object
//!   with a new allocation (one in eight; its header word is written) or
//!   accesses a random word of a random object.
//!
//! `write` is the fraction of stores (default 0), `page` the page size
//! (default 4096). Randomness is SplitMix64 (see
//! [`vmlab_kernel::policy::random`]). Memory is constant in `n`: the list's
//! random cycle is a keyed Feistel permutation evaluated on the fly rather
//! than a stored table; only `heap` keeps a table, of `objects` addresses.

use crate::op::MemRef;
use std::fmt;
use std::str::FromStr;
use vmlab_hw::AccessKind;
use vmlab_kernel::policy::random::SplitMix64;

/// The kinds of generator, by spec name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GenKind {
    /// `seq`.
    Seq,
    /// `stride`.
    Stride,
    /// `uniform`.
    Uniform,
    /// `zipf`.
    Zipf,
    /// `loop`.
    Loop,
    /// `phases`.
    Phases,
    /// `matmul`.
    MatMul,
    /// `list`.
    List,
    /// `stack`.
    Stack,
    /// `heap`.
    Heap,
}

/// Keys every kind accepts.
const COMMON: &[&str] = &["seed", "base"];

/// The most objects `heap` tracks: its table of addresses (8 bytes an
/// object) stays within 512 MiB of host memory. A larger count asked the
/// host for the whole table at once and aborted the process.
const MAX_HEAP_OBJECTS: u64 = 1 << 26;

/// Name, required keys and optional keys of each kind.
const KINDS: &[(GenKind, &str, &[&str], &[&str])] = &[
    (
        GenKind::Seq,
        "seq",
        &["pages", "n"],
        &["size", "write", "page"],
    ),
    (
        GenKind::Stride,
        "stride",
        &["pages", "stride", "n"],
        &["size", "write", "page"],
    ),
    (
        GenKind::Uniform,
        "uniform",
        &["pages", "n"],
        &["write", "page"],
    ),
    (
        GenKind::Zipf,
        "zipf",
        &["pages", "alpha", "n"],
        &["write", "page"],
    ),
    (GenKind::Loop, "loop", &["pages", "n"], &["write", "page"]),
    (
        GenKind::Phases,
        "phases",
        &["pages", "ws", "phase", "n"],
        &["write", "page"],
    ),
    (
        GenKind::MatMul,
        "matmul",
        &["dim"],
        &["order", "tile", "elem", "page", "n"],
    ),
    (GenKind::List, "list", &["nodes", "n"], &["node", "page"]),
    (GenKind::Stack, "stack", &["depth", "n"], &["size", "page"]),
    (
        GenKind::Heap,
        "heap",
        &["objects", "n"],
        &["obj", "write", "page"],
    ),
];

/// Loop order of a matrix multiply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatOrder {
    /// i, j, k with B read down a column.
    Naive,
    /// i, j, k with B stored transposed, read along a row.
    Transposed,
    /// Blocked into tiles.
    Tiled,
}

/// A parsed, validated generator spec; [`GenSpec::stream`] builds the
/// stream, as often as wanted (a sweep replays it per configuration).
#[derive(Clone, Debug, PartialEq)]
pub struct GenSpec {
    kind: GenKind,
    seed: u64,
    base: u64,
    page: u64,
    n: u64,
    pages: u64,
    size: u32,
    write: f64,
    stride: u64,
    alpha: f64,
    ws: u64,
    phase: u64,
    dim: u64,
    order: MatOrder,
    tile: u64,
    elem: u64,
    nodes: u64,
    node: u64,
    depth: u64,
    objects: u64,
    obj: u64,
}

/// A generator spec that could not be parsed: the part of the spec at
/// fault, what was expected there and what was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    context: String,
    expected: String,
    found: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, found {}",
            self.context, self.expected, self.found
        )
    }
}

impl std::error::Error for SpecError {}

pub(crate) fn err(
    context: &str,
    expected: impl Into<String>,
    found: impl Into<String>,
) -> SpecError {
    SpecError {
        context: context.to_owned(),
        expected: expected.into(),
        found: found.into(),
    }
}

fn parse_u64(v: &str) -> Option<u64> {
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

impl FromStr for GenSpec {
    type Err = SpecError;

    fn from_str(spec: &str) -> Result<GenSpec, SpecError> {
        let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let names: Vec<&str> = KINDS.iter().map(|k| k.1).collect();
        let &(kind, name, required, optional) =
            KINDS.iter().find(|k| k.1 == name).ok_or_else(|| {
                err(
                    spec,
                    format!("a generator kind ({})", names.join(", ")),
                    format!("{name:?}"),
                )
            })?;
        let mut g = GenSpec {
            kind,
            seed: 1,
            base: crate::op::FIRST_STREAM_ADDR,
            page: 4096,
            n: u64::MAX,
            pages: 0,
            size: 8,
            write: 0.0,
            stride: 0,
            alpha: 0.0,
            ws: 0,
            phase: 0,
            dim: 0,
            order: MatOrder::Naive,
            tile: 32,
            elem: 8,
            nodes: 0,
            node: 64,
            depth: 0,
            objects: 0,
            obj: 64,
        };
        let mut seen: Vec<&str> = Vec::new();
        for item in rest.split(',').filter(|s| !s.is_empty()) {
            let context = format!("{name}:{item}");
            let Some((key, value)) = item.split_once('=') else {
                return Err(err(&context, "key=value", format!("{item:?}")));
            };
            let allowed = required.iter().chain(optional).chain(COMMON);
            if !allowed.clone().any(|k| *k == key) {
                let keys: Vec<&str> = allowed.copied().collect();
                let expected = format!("a key of {name} ({})", keys.join(", "));
                return Err(err(&context, expected, format!("{key:?}")));
            }
            if seen.contains(&key) {
                return Err(err(&context, "each key once", format!("{key} again")));
            }
            seen.push(key);
            g.set(key, value)
                .map_err(|expected| err(&context, expected, format!("{value:?}")))?;
        }
        if let Some(missing) = required.iter().find(|k| !seen.contains(k)) {
            return Err(err(
                spec,
                format!(
                    "the key {missing} ({name} requires {})",
                    required.join(", ")
                ),
                "none",
            ));
        }
        g.check(spec)?;
        Ok(g)
    }
}

impl GenSpec {
    /// Sets `key` from its text; the error says what the value should be.
    fn set(&mut self, key: &str, value: &str) -> Result<(), &'static str> {
        let int = |v: &str| parse_u64(v).ok_or("a whole number (decimal or 0x hex)");
        let positive = |v: &str| match int(v)? {
            0 => Err("a whole number of at least 1"),
            x => Ok(x),
        };
        match key {
            "seed" => self.seed = int(value)?,
            "base" => self.base = int(value)?,
            "n" => self.n = int(value)?,
            "page" => {
                self.page = int(value)?;
                if !self.page.is_power_of_two() {
                    return Err("a power of two");
                }
            }
            "pages" => self.pages = positive(value)?,
            "size" => {
                self.size = u32::try_from(positive(value)?).map_err(|_| "a size below 2^32")?;
            }
            "stride" => self.stride = positive(value)?,
            "ws" => self.ws = positive(value)?,
            "phase" => self.phase = positive(value)?,
            "dim" => self.dim = positive(value)?,
            "tile" => self.tile = positive(value)?,
            "elem" => self.elem = positive(value)?,
            "nodes" => self.nodes = positive(value)?,
            "node" => self.node = positive(value)?,
            "depth" => self.depth = positive(value)?,
            "objects" => self.objects = positive(value)?,
            "obj" => self.obj = positive(value)?,
            "alpha" => {
                self.alpha = value.parse().map_err(|_| "a number")?;
                if !(self.alpha >= 0.0 && self.alpha.is_finite()) {
                    return Err("a number of at least 0");
                }
            }
            "write" => {
                self.write = value.parse().map_err(|_| "a number")?;
                if !(0.0..=1.0).contains(&self.write) {
                    return Err("a fraction from 0 to 1");
                }
            }
            "order" => {
                self.order = match value {
                    "naive" => MatOrder::Naive,
                    "transposed" => MatOrder::Transposed,
                    "tiled" => MatOrder::Tiled,
                    _ => return Err("naive, transposed or tiled"),
                }
            }
            _ => return Err("a known key"),
        }
        Ok(())
    }

    /// Checks that the keys agree with each other and that every address
    /// fits in 64 bits.
    fn check(&self, spec: &str) -> Result<(), SpecError> {
        if self.kind == GenKind::Phases && self.ws > self.pages {
            return Err(err(spec, "ws at most pages", format!("ws={}", self.ws)));
        }
        if self.kind == GenKind::Heap && self.objects > MAX_HEAP_OBJECTS {
            return Err(err(
                spec,
                format!("objects at most {MAX_HEAP_OBJECTS} (heap keeps a table of every object's address)"),
                format!("objects={}", self.objects),
            ));
        }
        let span = match self.kind {
            GenKind::MatMul => self
                .dim
                .checked_mul(self.dim)
                .and_then(|d| d.checked_mul(self.elem))
                .and_then(|a| a.checked_next_multiple_of(self.page))
                .and_then(|a| a.checked_mul(3)),
            GenKind::List => self.nodes.checked_mul(self.node),
            GenKind::Stack => self.depth.checked_mul(u64::from(self.size)),
            // The arena, plus the rounding of the last object up to a word.
            GenKind::Heap => self
                .objects
                .checked_mul(self.obj)
                .and_then(|b| b.checked_mul(4))
                .and_then(|b| b.checked_add(8)),
            _ => self.pages.checked_mul(self.page),
        };
        match span.and_then(|s| s.checked_add(self.base)) {
            Some(_) => Ok(()),
            None => Err(err(
                spec,
                "a workload that fits in a 64-bit address space",
                "more",
            )),
        }
    }

    /// How many references the stream yields (the spec's `n`).
    pub fn references(&self) -> u64 {
        self.n
    }

    /// The kind of generator.
    pub fn kind(&self) -> GenKind {
        self.kind
    }

    /// A fresh stream, from the beginning.
    pub fn stream(&self) -> Generator {
        let pattern = match self.kind {
            GenKind::Seq => Pattern::Stride {
                step: u64::from(self.size),
                span: self.pages * self.page,
            },
            GenKind::Stride => Pattern::Stride {
                step: self.stride,
                span: self.pages * self.page,
            },
            GenKind::Uniform => Pattern::Uniform { pages: self.pages },
            GenKind::Zipf => Pattern::Zipf(Zipf::new(self.pages, self.alpha)),
            GenKind::Loop => Pattern::Loop { pages: self.pages },
            GenKind::Phases => Pattern::Phases {
                pages: self.pages,
                ws: self.ws,
                phase: self.phase,
                start: 0,
            },
            GenKind::MatMul => Pattern::MatMul(MatMul::new(self)),
            GenKind::List => Pattern::List(Feistel::new(self.nodes, self.seed)),
            GenKind::Stack => Pattern::Stack {
                depth: self.depth,
                sp: 0,
            },
            GenKind::Heap => {
                let slots = (0..self.objects).map(|i| i * self.obj).collect();
                Pattern::Heap {
                    slots,
                    bump: self.objects * self.obj,
                    arena: 4 * self.objects * self.obj,
                }
            }
        };
        Generator {
            pattern,
            rng: SplitMix64::new(self.seed),
            i: 0,
            left: self.n,
            base: self.base,
            page: self.page,
            size: match self.kind {
                GenKind::Seq | GenKind::Stride | GenKind::Stack => self.size,
                GenKind::MatMul => self.elem.min(u64::from(u32::MAX)) as u32,
                _ => 8,
            },
            unit: if self.kind == GenKind::List {
                self.node
            } else {
                self.obj
            },
            // write fraction f as a threshold on 64 random bits; exact
            // enough (2^-64 granularity), and 1.0 saturates to "always".
            write_below: (self.write * 18_446_744_073_709_551_616.0) as u64,
            always_write: self.write >= 1.0,
        }
    }
}

/// The address pattern and its state.
#[derive(Clone, Debug)]
enum Pattern {
    Stride {
        step: u64,
        span: u64,
    },
    Uniform {
        pages: u64,
    },
    Zipf(Zipf),
    Loop {
        pages: u64,
    },
    Phases {
        pages: u64,
        ws: u64,
        phase: u64,
        start: u64,
    },
    MatMul(MatMul),
    List(Feistel),
    Stack {
        depth: u64,
        sp: u64,
    },
    Heap {
        slots: Vec<u64>,
        bump: u64,
        arena: u64,
    },
}

/// A synthetic stream; see the module doc for the kinds.
#[derive(Clone, Debug)]
pub struct Generator {
    pattern: Pattern,
    rng: SplitMix64,
    /// References produced so far.
    i: u64,
    /// References still allowed by `n`.
    left: u64,
    base: u64,
    page: u64,
    size: u32,
    /// Bytes per heap object or list node.
    unit: u64,
    write_below: u64,
    always_write: bool,
}

impl Generator {
    /// Read or write, by the spec's write fraction.
    #[inline]
    fn data_kind(&mut self) -> AccessKind {
        if self.always_write || (self.write_below != 0 && self.rng.next_u64() < self.write_below) {
            AccessKind::Write
        } else {
            AccessKind::Read
        }
    }
}

impl Iterator for Generator {
    type Item = MemRef;

    #[inline]
    fn next(&mut self) -> Option<MemRef> {
        if self.left == 0 {
            return None;
        }
        let i = self.i;
        let (offset, kind) = match &mut self.pattern {
            Pattern::Stride { step, span } => {
                let off = (u128::from(i) * u128::from(*step) % u128::from(*span)) as u64;
                (off, self.data_kind())
            }
            Pattern::Uniform { pages } => {
                let p = self.rng.below(*pages);
                (p * self.page, self.data_kind())
            }
            Pattern::Zipf(z) => {
                let p = z.sample(&mut self.rng) - 1;
                (p * self.page, self.data_kind())
            }
            Pattern::Loop { pages } => ((i % *pages) * self.page, self.data_kind()),
            Pattern::Phases {
                pages,
                ws,
                phase,
                start,
            } => {
                if i % *phase == 0 {
                    *start = self.rng.below(*pages - *ws + 1);
                }
                let p = *start + self.rng.below(*ws);
                (p * self.page, self.data_kind())
            }
            Pattern::MatMul(m) => m.next()?,
            Pattern::List(f) => (f.permute(i % f.n) * self.unit, AccessKind::Read),
            Pattern::Stack { depth, sp } => {
                let size = u64::from(self.size);
                // Push when empty, pop when full, otherwise a fair coin.
                let push = *sp == 0 || (*sp < *depth && self.rng.next_u64() >> 63 == 0);
                if push {
                    *sp += 1;
                    ((*depth - *sp) * size, AccessKind::Write)
                } else {
                    *sp -= 1;
                    ((*depth - *sp - 1) * size, AccessKind::Read)
                }
            }
            Pattern::Heap { slots, bump, arena } => {
                let r = self.rng.next_u64();
                let slot = self.rng.below(slots.len() as u64) as usize;
                if r & 7 == 0 {
                    if *bump + self.unit > *arena {
                        *bump = 0;
                    }
                    slots[slot] = *bump;
                    *bump += self.unit;
                    (slots[slot], AccessKind::Write)
                } else {
                    let word = self.rng.below(self.unit.div_ceil(8)) * 8;
                    let kind = if self.always_write || (r >> 3) < (self.write_below >> 3) {
                        AccessKind::Write
                    } else {
                        AccessKind::Read
                    };
                    (slots[slot] + word, kind)
                }
            }
        };
        self.i += 1;
        self.left -= 1;
        Some(MemRef {
            addr: self.base + offset,
            size: self.size,
            kind,
            value: None,
        })
    }
}

/// Zipf(alpha) over ranks `1..=n` by rejection-inversion sampling
/// (W. Hörmann and G. Derflinger, "Rejection-inversion to generate variates
/// from monotone discrete distributions", ACM TOMACS 6(3), 1996), in the
/// form Apache Commons RNG's `RejectionInversionZipfSampler` and
/// rand_distr's `Zipf` use: O(1) expected time per sample and no table,
/// so a million pages cost nothing to set up.
#[derive(Clone, Debug)]
struct Zipf {
    n: f64,
    alpha: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    s: f64,
}

impl Zipf {
    fn new(n: u64, alpha: f64) -> Zipf {
        let mut z = Zipf {
            n: n as f64,
            alpha,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            s: 0.0,
        };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(z.n + 0.5);
        z.s = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        z
    }

    /// h(x) = x^-alpha, the hat function.
    fn h(&self, x: f64) -> f64 {
        (-self.alpha * x.ln()).exp()
    }

    /// H(x), an integral of h, written to stay accurate as alpha -> 1.
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        helper2((1.0 - self.alpha) * log_x) * log_x
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.alpha)).max(-1.0);
        (helper1(t) * x).exp()
    }

    #[inline]
    fn sample(&self, rng: &mut SplitMix64) -> u64 {
        loop {
            // A uniform double in [0, 1) from the top 53 bits.
            let u01 = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            let u = self.h_integral_n + u01 * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).clamp(1.0, self.n).floor();
            if k - x <= self.s || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }
}

/// log(1 + x) / x, with its series near 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// (exp(x) - 1) / x, with its series near 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x))
    }
}

/// A keyed pseudo-random permutation of `0..n`: a 4-round balanced Feistel
/// network on the smallest even number of bits covering `n`, with
/// cycle-walking (re-encrypt until the result is below `n`; Black &
/// Rogaway, "Ciphers with arbitrary finite domains", CT-RSA 2002). Visiting
/// `permute(0), permute(1), ...` walks one cycle through every node in a
/// random order, as following a shuffled linked list does, in O(1) memory.
#[derive(Clone, Debug)]
struct Feistel {
    n: u64,
    half_bits: u32,
    keys: [u64; 4],
}

impl Feistel {
    fn new(n: u64, seed: u64) -> Feistel {
        let bits = 64 - (n - 1).leading_zeros();
        let half_bits = bits.div_ceil(2).max(1);
        let mut rng = SplitMix64::new(seed ^ 0x6c69_7374); // "list"
        Feistel {
            n,
            half_bits,
            keys: std::array::from_fn(|_| rng.next_u64()),
        }
    }

    #[inline]
    fn permute(&self, mut x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        // The domain is under 4n, so this ends after 4 tries on average.
        loop {
            let (mut l, mut r) = (x >> self.half_bits, x & mask);
            for k in self.keys {
                let f = SplitMix64::new(r ^ k).next_u64() & mask;
                (l, r) = (r, l ^ f);
            }
            x = (l << self.half_bits) | r;
            if x < self.n {
                return x;
            }
        }
    }
}

/// Where a matrix multiply is in its loop nest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MatStep {
    ReadC,
    ReadA,
    ReadB,
    WriteC,
    Done,
}

/// The loop nest of C = A x B, one reference per step.
#[derive(Clone, Debug)]
struct MatMul {
    dim: u64,
    tile: u64,
    order: MatOrder,
    elem: u64,
    a: u64,
    b: u64,
    c: u64,
    ii: u64,
    jj: u64,
    kk: u64,
    i: u64,
    j: u64,
    k: u64,
    step: MatStep,
}

impl MatMul {
    fn new(g: &GenSpec) -> MatMul {
        let bytes = (g.dim * g.dim * g.elem).next_multiple_of(g.page);
        let tile = if g.order == MatOrder::Tiled {
            g.tile
        } else {
            g.dim
        };
        MatMul {
            dim: g.dim,
            tile,
            order: g.order,
            elem: g.elem,
            a: 0,
            b: bytes,
            c: 2 * bytes,
            ii: 0,
            jj: 0,
            kk: 0,
            i: 0,
            j: 0,
            k: 0,
            step: MatMul::first_step(g.order),
        }
    }

    fn first_step(order: MatOrder) -> MatStep {
        if order == MatOrder::Tiled {
            MatStep::ReadC
        } else {
            MatStep::ReadA
        }
    }

    fn at(&self, base: u64, row: u64, col: u64) -> u64 {
        base + (row * self.dim + col) * self.elem
    }

    #[inline]
    fn next(&mut self) -> Option<(u64, AccessKind)> {
        let (i, j, k) = (self.i, self.j, self.k);
        let r = match self.step {
            MatStep::Done => return None,
            MatStep::ReadC => {
                self.step = MatStep::ReadA;
                (self.at(self.c, i, j), AccessKind::Read)
            }
            MatStep::ReadA => {
                self.step = MatStep::ReadB;
                (self.at(self.a, i, k), AccessKind::Read)
            }
            MatStep::ReadB => {
                self.k += 1;
                self.step = if self.k == (self.kk + self.tile).min(self.dim) {
                    MatStep::WriteC
                } else {
                    MatStep::ReadA
                };
                let b = match self.order {
                    MatOrder::Transposed => self.at(self.b, j, k),
                    MatOrder::Naive | MatOrder::Tiled => self.at(self.b, k, j),
                };
                (b, AccessKind::Read)
            }
            MatStep::WriteC => {
                self.advance();
                (self.at(self.c, i, j), AccessKind::Write)
            }
        };
        Some(r)
    }

    /// Moves to the next (i, j) of the tile, or the next tile.
    fn advance(&mut self) {
        let end = |start: u64| (start + self.tile).min(self.dim);
        self.j += 1;
        if self.j == end(self.jj) {
            self.j = self.jj;
            self.i += 1;
            if self.i == end(self.ii) {
                self.kk += self.tile;
                if self.kk >= self.dim {
                    self.kk = 0;
                    self.jj += self.tile;
                    if self.jj >= self.dim {
                        self.jj = 0;
                        self.ii += self.tile;
                        if self.ii >= self.dim {
                            self.step = MatStep::Done;
                            return;
                        }
                    }
                }
                self.i = self.ii;
                self.j = self.jj;
            }
        }
        self.k = self.kk;
        self.step = MatMul::first_step(self.order);
    }
}
