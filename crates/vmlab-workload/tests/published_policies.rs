//! The replacement policies against their published definitions, on a
//! Zipf(1.0) trace read back as a libCacheSim oracleGeneral file: for LRU,
//! FIFO, Clock, ARC, SIEVE and S3-FIFO, vmlab's replacement-only model must
//! miss exactly as often as a plain reference implementation written here
//! from each paper's pseudocode (the sources are cited on each model; the
//! policy files cite the same ones and say where they follow libCacheSim
//! instead).
//!
//! The reference models share nothing with the policies: no frame ids, no
//! intrusive lists, no hardware bits, only keys in ordered maps.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::Write;
use vmlab_kernel::policy::sim::ReplacementSim;
use vmlab_kernel::policy::{by_name, PolicyParams};
use vmlab_workload::gen::GenSpec;
use vmlab_workload::trace::{self, oracle, ReadOptions, TraceFormat};

/// Keys in the order they were pushed (oldest first), with removal from
/// anywhere: the LRU lists and FIFO queues of the papers.
#[derive(Default)]
struct Ordered {
    by_stamp: BTreeMap<u64, u64>,
    stamp_of: HashMap<u64, u64>,
    clock: u64,
}

impl Ordered {
    fn push_newest(&mut self, key: u64) {
        self.remove(key);
        self.clock += 1;
        self.by_stamp.insert(self.clock, key);
        self.stamp_of.insert(key, self.clock);
    }
    fn remove(&mut self, key: u64) -> bool {
        match self.stamp_of.remove(&key) {
            Some(stamp) => {
                self.by_stamp.remove(&stamp);
                true
            }
            None => false,
        }
    }
    fn contains(&self, key: u64) -> bool {
        self.stamp_of.contains_key(&key)
    }
    fn len(&self) -> usize {
        self.stamp_of.len()
    }
    fn oldest(&self) -> Option<u64> {
        self.by_stamp.values().next().copied()
    }
    fn pop_oldest(&mut self) -> Option<u64> {
        let key = self.oldest()?;
        self.remove(key);
        Some(key)
    }
    /// The key pushed next after `key` (towards the newest end).
    fn newer(&self, key: u64) -> Option<u64> {
        let stamp = self.stamp_of[&key];
        self.by_stamp.range(stamp + 1..).next().map(|(_, &k)| k)
    }
}

/// A cache model: one reference, true on a hit.
trait Model {
    fn access(&mut self, key: u64) -> bool;
}

/// FIFO (Silberschatz OSC 10e §10.4.2): evict the page loaded first.
struct Fifo {
    cap: usize,
    queue: VecDeque<u64>,
    resident: HashSet<u64>,
}

impl Model for Fifo {
    fn access(&mut self, key: u64) -> bool {
        if self.resident.contains(&key) {
            return true;
        }
        if self.queue.len() == self.cap {
            let out = self.queue.pop_front().unwrap();
            self.resident.remove(&out);
        }
        self.queue.push_back(key);
        self.resident.insert(key);
        false
    }
}

/// LRU (Mattson et al. 1970; OSC §10.4.4): evict the page used longest ago.
struct Lru {
    cap: usize,
    order: Ordered,
}

impl Model for Lru {
    fn access(&mut self, key: u64) -> bool {
        let hit = self.order.contains(key);
        if !hit && self.order.len() == self.cap {
            self.order.pop_oldest();
        }
        self.order.push_newest(key);
        hit
    }
}

/// Clock (Corbató 1968; OSC §10.4.5.2): frames in a circle, a referenced
/// bit per frame set by every reference (the faulting one included, as the
/// hardware sets it when the access completes), a hand that clears set
/// bits and takes the first frame whose bit is clear, then moves past it.
/// Empty frames fill in order.
struct Clock {
    slots: Vec<(u64, bool)>,
    cap: usize,
    hand: usize,
    slot_of: HashMap<u64, usize>,
}

impl Model for Clock {
    fn access(&mut self, key: u64) -> bool {
        if let Some(&i) = self.slot_of.get(&key) {
            self.slots[i].1 = true;
            return true;
        }
        let i = if self.slots.len() < self.cap {
            self.slots.push((key, true));
            self.slots.len() - 1
        } else {
            while self.slots[self.hand].1 {
                self.slots[self.hand].1 = false;
                self.hand = (self.hand + 1) % self.cap;
            }
            let victim = self.hand;
            self.hand = (self.hand + 1) % self.cap;
            self.slot_of.remove(&self.slots[victim].0);
            self.slots[victim] = (key, true);
            victim
        };
        self.slot_of.insert(key, i);
        false
    }
}

/// ARC (Megiddo and Modha, FAST 2003, Figure 4), with the real-valued
/// target `p` of the paper.
struct Arc {
    c: usize,
    p: f64,
    t1: Ordered,
    t2: Ordered,
    b1: Ordered,
    b2: Ordered,
}

impl Arc {
    /// REPLACE(x_t, p).
    fn replace(&mut self, in_b2: bool) {
        let t1 = self.t1.len() as f64;
        if self.t1.len() >= 1 && ((in_b2 && t1 == self.p) || t1 > self.p) {
            let out = self.t1.pop_oldest().unwrap();
            self.b1.push_newest(out);
        } else {
            let out = self.t2.pop_oldest().unwrap();
            self.b2.push_newest(out);
        }
    }
}

impl Model for Arc {
    fn access(&mut self, x: u64) -> bool {
        let c = self.c as f64;
        // Case I: a hit in T1 or T2 moves x to the MRU end of T2.
        if self.t1.remove(x) || self.t2.contains(x) {
            self.t2.push_newest(x);
            return true;
        }
        let (b1, b2) = (self.b1.len() as f64, self.b2.len() as f64);
        if self.b1.contains(x) {
            // Case II.
            let delta = if b1 >= b2 { 1.0 } else { b2 / b1 };
            self.p = (self.p + delta).min(c);
            self.replace(false);
            self.b1.remove(x);
            self.t2.push_newest(x);
        } else if self.b2.contains(x) {
            // Case III.
            let delta = if b2 >= b1 { 1.0 } else { b1 / b2 };
            self.p = (self.p - delta).max(0.0);
            self.replace(true);
            self.b2.remove(x);
            self.t2.push_newest(x);
        } else {
            // Case IV.
            let l1 = self.t1.len() + self.b1.len();
            let l2 = self.t2.len() + self.b2.len();
            if l1 == self.c {
                if self.t1.len() < self.c {
                    self.b1.pop_oldest();
                    self.replace(false);
                } else {
                    self.t1.pop_oldest();
                }
            } else if l1 + l2 >= self.c {
                if l1 + l2 == 2 * self.c {
                    self.b2.pop_oldest();
                }
                self.replace(false);
            }
            self.t1.push_newest(x);
        }
        false
    }
}

/// SIEVE (Zhang et al., NSDI 2024, Algorithm 1): one queue, a visited bit
/// set by hits only, a hand moving from the tail towards the head.
struct Sieve {
    cap: usize,
    queue: Ordered,
    visited: HashMap<u64, bool>,
    hand: Option<u64>,
}

impl Model for Sieve {
    fn access(&mut self, x: u64) -> bool {
        if let Some(v) = self.visited.get_mut(&x) {
            *v = true;
            return true;
        }
        if self.queue.len() == self.cap {
            // Evict: start at the hand (or the tail), clear visited bits
            // moving towards the head (wrapping to the tail), take the
            // first unvisited object; the hand stays at its newer neighbour.
            let mut o = self.hand.or_else(|| self.queue.oldest()).unwrap();
            while self.visited[&o] {
                self.visited.insert(o, false);
                o = self.queue.newer(o).or_else(|| self.queue.oldest()).unwrap();
            }
            self.hand = self.queue.newer(o);
            self.queue.remove(o);
            self.visited.remove(&o);
        }
        self.queue.push_newest(x);
        self.visited.insert(x, false);
        false
    }
}

/// S3-FIFO (Yang et al., SOSP 2023, Algorithm 1): small FIFO `S` of
/// ⌈10%⌉ of the cache, main FIFO `M`, ghost FIFO `G` of keys as long as
/// `M`'s share, a 2-bit frequency per object. As the policy file records:
/// a promotion into `M` does not evict from `M` in the same step (the
/// next eviction does), a key found in `G` stays there, and `G` is
/// consulted after the eviction that makes room.
struct S3Fifo {
    cap: usize,
    small_share: usize,
    small: Ordered,
    main: Ordered,
    ghost: Ordered,
    ghost_cap: usize,
    freq: HashMap<u64, u8>,
}

impl S3Fifo {
    fn evict_small(&mut self) -> bool {
        while let Some(t) = self.small.pop_oldest() {
            if self.freq[&t] > 1 {
                self.main.push_newest(t);
                self.freq.insert(t, 0);
            } else {
                self.ghost.push_newest(t);
                if self.ghost.len() > self.ghost_cap {
                    self.ghost.pop_oldest();
                }
                self.freq.remove(&t);
                return true;
            }
        }
        false
    }
    fn evict_main(&mut self) -> bool {
        while let Some(t) = self.main.pop_oldest() {
            let f = self.freq[&t];
            if f > 0 {
                self.main.push_newest(t);
                self.freq.insert(t, f - 1);
            } else {
                self.freq.remove(&t);
                return true;
            }
        }
        false
    }
}

impl Model for S3Fifo {
    fn access(&mut self, x: u64) -> bool {
        if let Some(f) = self.freq.get_mut(&x) {
            *f = (*f + 1).min(3);
            return true;
        }
        if self.small.len() + self.main.len() == self.cap {
            let evicted = self.small.len() >= self.small_share && self.evict_small();
            if !evicted {
                self.evict_main();
            }
        }
        if self.ghost.contains(x) {
            self.main.push_newest(x);
        } else {
            self.small.push_newest(x);
        }
        self.freq.insert(x, 0);
        false
    }
}

fn reference_model(policy: &str, cap: usize) -> Box<dyn Model> {
    match policy {
        "fifo" => Box::new(Fifo {
            cap,
            queue: VecDeque::new(),
            resident: HashSet::new(),
        }),
        "lru" => Box::new(Lru {
            cap,
            order: Ordered::default(),
        }),
        "clock" => Box::new(Clock {
            slots: Vec::new(),
            cap,
            hand: 0,
            slot_of: HashMap::new(),
        }),
        "arc" => Box::new(Arc {
            c: cap,
            p: 0.0,
            t1: Ordered::default(),
            t2: Ordered::default(),
            b1: Ordered::default(),
            b2: Ordered::default(),
        }),
        "sieve" => Box::new(Sieve {
            cap,
            queue: Ordered::default(),
            visited: HashMap::new(),
            hand: None,
        }),
        "s3-fifo" => {
            let small_share = cap.div_ceil(10);
            Box::new(S3Fifo {
                cap,
                small_share,
                small: Ordered::default(),
                main: Ordered::default(),
                ghost: Ordered::default(),
                ghost_cap: cap - small_share,
                freq: HashMap::new(),
            })
        }
        other => panic!("no reference model for {other}"),
    }
}

/// Object ids as real traces carry them: hashes of names.
fn object_id(page: u64) -> u64 {
    let mut z = page.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    // The reader keeps the low 52 bits of an id as the page number.
    (z ^ (z >> 31)) & ((1 << 52) - 1)
}

/// Writes a Zipf(1.0) stream as an oracleGeneral file (with true next-use
/// times, as libCacheSim's converter writes them) and reads it back
/// through vmlab's trace reader as page numbers.
fn zipf_through_oracle_general(pages: u64, n: u64) -> Vec<u64> {
    let spec: GenSpec = format!("zipf:pages={pages},alpha=1.0,n={n},seed=11")
        .parse()
        .unwrap();
    let ids: Vec<u64> = spec.stream().map(|r| object_id(r.addr >> 12)).collect();
    let mut next_use = vec![-1i64; ids.len()];
    let mut seen = HashMap::new();
    for (i, &id) in ids.iter().enumerate().rev() {
        if let Some(&later) = seen.get(&id) {
            next_use[i] = later as i64;
        }
        seen.insert(id, i);
    }
    let path = std::env::temp_dir().join(format!(
        "vmlab-published-policies-{}.oracleGeneral.bin",
        std::process::id()
    ));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for (i, &id) in ids.iter().enumerate() {
        out.write_all(&(i as u32).to_le_bytes()).unwrap();
        out.write_all(&id.to_le_bytes()).unwrap();
        out.write_all(&4096u32.to_le_bytes()).unwrap();
        out.write_all(&next_use[i].to_le_bytes()).unwrap();
    }
    out.into_inner().unwrap().sync_all().unwrap();
    let reader = trace::open(
        &path,
        Some(TraceFormat::OracleGeneral),
        ReadOptions::default(),
    )
    .unwrap();
    let back: Vec<u64> = reader.map(|r| r.unwrap().addr >> 12).collect();
    std::fs::remove_file(&path).unwrap();
    // Pages are the objects numbered in order of first appearance: the same
    // stream up to renaming, which is all a replacement policy can see.
    let mut page_of = HashMap::new();
    let renamed: Vec<u64> = ids
        .iter()
        .map(|id| {
            let next = page_of.len() as u64;
            (oracle::FIRST_OBJECT_ADDR >> 12) + *page_of.entry(*id).or_insert(next)
        })
        .collect();
    assert_eq!(
        back, renamed,
        "the oracleGeneral file reads back as written"
    );
    back
}

#[test]
fn miss_ratios_match_the_published_definitions() {
    let trace = zipf_through_oracle_general(5_000, 60_000);
    for cap in [50, 500] {
        for policy in ["lru", "fifo", "clock", "arc", "sieve", "s3-fifo"] {
            let mut reference = reference_model(policy, cap);
            let reference_misses = trace.iter().filter(|&&k| !reference.access(k)).count();
            let p = by_name(policy, cap, &PolicyParams::default()).unwrap();
            let mut sim = ReplacementSim::new(p, cap, 0);
            for &k in &trace {
                sim.access(k, false);
            }
            assert_eq!(
                sim.stats().faults,
                reference_misses as u64,
                "{policy} with {cap} frames: vmlab misses {:.4}, the published definition {:.4}",
                sim.stats().miss_ratio(),
                reference_misses as f64 / trace.len() as f64
            );
        }
    }
}
