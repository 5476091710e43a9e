//! Huge-page mappings against a plain model: random sequences of
//! MAP_HUGETLB mmaps (private and shared), 8-byte stores and loads at any
//! offset, fork and munmap over two processes. The model keeps each
//! mapping's words (a shared mapping's in one object both processes see,
//! a private one's copied at fork); every load (of a word asked for and
//! of every word the model holds for that mapping) must return what the
//! model holds, an mmap must fail with ENOMEM exactly when the pool cannot
//! promise its pages, and once every process has exited the whole pool
//! must be free again.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use vmlab_hw::arch::presets;
use vmlab_kernel::abi::{MAP_ANONYMOUS, MAP_HUGETLB, MAP_PRIVATE, MAP_SHARED};
use vmlab_kernel::region::Prot;
use vmlab_kernel::{Errno, Kernel, KernelConfig};

const HUGE: u64 = 2 << 20;
const POOL: usize = 12;

#[derive(Clone, Debug)]
enum Op {
    Mmap {
        pages: u64,
        shared: bool,
    },
    Store {
        p: usize,
        m: usize,
        at: u64,
        value: u64,
    },
    Load {
        p: usize,
        m: usize,
        at: u64,
    },
    Fork,
    Munmap {
        p: usize,
        m: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    // Mostly stores and loads, on the first few mappings, so that loads
    // meet earlier stores, forks copy stored pages and children read them.
    prop_oneof![
        2 => (1u64..=3, any::<bool>()).prop_map(|(pages, shared)| Op::Mmap { pages, shared }),
        6 => (0usize..2, 0usize..3, offset(), any::<u64>())
            .prop_map(|(p, m, at, value)| Op::Store { p, m, at, value }),
        4 => (0usize..2, 0usize..3, offset()).prop_map(|(p, m, at)| Op::Load { p, m, at }),
        1 => Just(Op::Fork),
        1 => (0usize..2, 0usize..3).prop_map(|(p, m)| Op::Munmap { p, m }),
    ]
}

/// A word's offset in a mapping: one of a few words at the start or the
/// end of one of its huge pages, so that loads meet earlier stores.
fn offset() -> impl Strategy<Value = u64> {
    (0u64..3, 0u64..4, any::<bool>()).prop_map(|(page, word, end)| {
        page * HUGE + if end { HUGE - 8 - word * 8 } else { word * 8 }
    })
}

/// One mapping as the model sees it: where, how long, and its words
/// (shared between processes through the `Rc` when MAP_SHARED).
#[derive(Clone)]
struct Mapping {
    addr: u64,
    len: u64,
    words: Rc<RefCell<BTreeMap<u64, u64>>>,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn huge_mappings_behave_like_memory(ops in prop::collection::vec(op(), 1..60)) {
        let arch = presets::by_name("x86-64").unwrap().unwrap();
        let mut config = KernelConfig::new(arch, 8192);
        config.huge_pages = POOL;
        let mut k = Kernel::new(config).unwrap();
        let rw = (Prot::READ | Prot::WRITE).bits();
        // Processes (the first, and a child once forked) and their mappings.
        let mut procs: Vec<(u32, Vec<Mapping>)> = vec![(k.spawn(0).unwrap(), Vec::new())];
        // Pool pages promised or held, as the model counts them.
        let mut used = 0u64;
        let mut shared_pages: BTreeMap<*const RefCell<BTreeMap<u64, u64>>, (u64, usize)> =
            BTreeMap::new();
        for op in ops {
            match op {
                Op::Mmap { pages, shared } => {
                    let flags = MAP_ANONYMOUS | MAP_HUGETLB | if shared { MAP_SHARED } else { MAP_PRIVATE };
                    let pid = procs[0].0;
                    let got = k.sys_mmap(pid, 0, pages * HUGE - 4096, rw, flags, -1, 0);
                    if used + pages > POOL as u64 {
                        prop_assert_eq!(got, Err(Errno::Enomem));
                        continue;
                    }
                    let addr = got.unwrap();
                    used += pages;
                    let words = Rc::new(RefCell::new(BTreeMap::new()));
                    if shared {
                        shared_pages.insert(Rc::as_ptr(&words), (pages, 1));
                    }
                    procs[0].1.push(Mapping { addr, len: pages * HUGE, words });
                }
                Op::Store { p, m, at, value } => {
                    let Some((pid, maps)) = procs.get(p) else { continue };
                    let Some(map) = maps.get(m) else { continue };
                    let at = at % map.len;
                    k.store(*pid, map.addr + at, 8, value).unwrap();
                    map.words.borrow_mut().insert(at, value);
                }
                Op::Load { p, m, at } => {
                    let Some((pid, maps)) = procs.get(p) else { continue };
                    let Some(map) = maps.get(m) else { continue };
                    // The word asked for, and every word the model holds.
                    let at = at % map.len;
                    let mut words = map.words.borrow().clone();
                    words.entry(at).or_insert(0);
                    for (at, want) in words {
                        prop_assert_eq!(k.load(*pid, map.addr + at, 8).unwrap(), want);
                    }
                }
                Op::Fork => {
                    if procs.len() == 2 {
                        continue;
                    }
                    let private: u64 = procs[0]
                        .1
                        .iter()
                        .filter(|m| !shared_pages.contains_key(&Rc::as_ptr(&m.words)))
                        .map(|m| m.len / HUGE)
                        .sum();
                    let got = k.fork(procs[0].0);
                    if used + private > POOL as u64 {
                        prop_assert_eq!(got, Err(Errno::Enomem));
                        continue;
                    }
                    let child = got.unwrap();
                    used += private;
                    let maps = procs[0]
                        .1
                        .iter()
                        .map(|m| match shared_pages.get_mut(&Rc::as_ptr(&m.words)) {
                            Some(entry) => {
                                entry.1 += 1;
                                m.clone()
                            }
                            None => Mapping {
                                addr: m.addr,
                                len: m.len,
                                words: Rc::new(RefCell::new(m.words.borrow().clone())),
                            },
                        })
                        .collect();
                    procs.push((child, maps));
                }
                Op::Munmap { p, m } => {
                    let Some((pid, maps)) = procs.get_mut(p) else { continue };
                    if m >= maps.len() {
                        continue;
                    }
                    let map = maps.remove(m);
                    k.sys_munmap(*pid, map.addr, map.len).unwrap();
                    let key = Rc::as_ptr(&map.words);
                    match shared_pages.get_mut(&key) {
                        Some(entry) => {
                            entry.1 -= 1;
                            if entry.1 == 0 {
                                used -= entry.0;
                                shared_pages.remove(&key);
                            }
                        }
                        None => used -= map.len / HUGE,
                    }
                }
            }
            prop_assert_eq!(k.huge_pool().available() as u64, POOL as u64 - used);
        }
        for (pid, _) in procs {
            k.exit(pid, 0).unwrap();
        }
        prop_assert_eq!(k.huge_pool().free_pages(), POOL);
        prop_assert_eq!(k.huge_pool().available(), POOL);
    }
}
