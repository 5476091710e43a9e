//! Block devices: [`BlockDevice`], a latency model and counters for a disk,
//! used by swap and the page cache. It stores no data (its users keep the
//! bytes); it answers how long each request takes and counts requests,
//! blocks and busy time. Time is simulated: the same requests always cost
//! the same nanoseconds.
//!
//! A request of `count` blocks costs a fixed access latency (the seek and
//! rotation of a disk, the flash read or program of an SSD), then the
//! transfer of `count × block_size` bytes at the device's rate, rounded up
//! to a whole nanosecond:
//!
//! ```text
//! ns = access + ceil(count × block_size × 10⁹ / transfer_bytes_per_s)
//! ```
//!
//! A device with [`sequential_skips_access`](BlockDeviceConfig::sequential_skips_access)
//! (a hard disk) pays no access latency for a request that starts at the
//! block after the previous request's last one, reads or writes alike: the
//! head is already there. That is why swapping out neighbouring pages to
//! neighbouring slots is cheap on a disk and random swap-ins are not.
//! Requests are served one at a time, in the order they arrive; there is no
//! queue, no cache and no parallelism inside the device.
//!
//! The presets, and where their numbers come from:
//!
//! | preset     | read access | write access | transfer  | sequential skips access |
//! |------------|-------------|--------------|-----------|-------------------------|
//! | [`hdd`](BlockDeviceConfig::hdd)   | 8 ms  | 8 ms  | 150 MB/s | yes |
//! | [`ssd`](BlockDeviceConfig::ssd)   | 80 µs | 20 µs | 2 GB/s   | no  |
//! | [`nvme`](BlockDeviceConfig::nvme) | 10 µs | 10 µs | 3 GB/s   | no  |
//!
//! - hdd: a 7200 rpm desktop drive. Half a revolution at 7200 rpm is
//!   4.17 ms of average rotational latency; average seeks of such drives
//!   are about 4 ms (their datasheets give 4 to 9 ms). "Latency numbers
//!   every programmer should know" (Jeff Dean, 2012) rounds a disk seek up
//!   to 10 ms. Sustained transfer runs from about 100 MB/s on inner tracks
//!   to over 200 MB/s on outer ones; 150 MB/s is a middle value.
//! - ssd: a NAND flash SSD. A flash page read (tR) takes tens of µs
//!   (50 to 100 µs for TLC NAND), to which the controller adds its share;
//!   a write is acknowledged once it reaches the drive's DRAM or SLC cache,
//!   faster than a read. 2 GB/s is a PCIe 3.0 ×4 drive's sequential rate.
//!   (The 2012 table says 150 µs for a random 4 KiB read and 1 GB/s.)
//! - nvme: a low-latency NVMe drive, Intel Optane SSD DC P4800X class,
//!   whose specification gives about 10 µs read and write latency; 3 GB/s
//!   is near the ceiling of a PCIe 3.0 ×4 link.
//!
//! All presets use 4096-byte blocks, the logical block size of current
//! drives and one page of swap on x86-64.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A device's timing, as data (it deserializes from a config file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockDeviceConfig {
    /// Bytes in one block, the unit of requests.
    pub block_size: u32,
    /// Fixed cost of a read request before data moves, in ns.
    pub read_access_ns: u64,
    /// Fixed cost of a write request before data moves, in ns.
    pub write_access_ns: u64,
    /// Transfer rate once data moves, in bytes per second.
    pub transfer_bytes_per_s: u64,
    /// Whether a request that continues where the previous one ended skips
    /// the access cost (a disk head that need not move).
    pub sequential_skips_access: bool,
}

impl BlockDeviceConfig {
    /// Names [`preset`](BlockDeviceConfig::preset) accepts.
    pub const PRESETS: &'static [&'static str] = &["hdd", "ssd", "nvme"];

    /// A 7200 rpm hard disk (see the module documentation for sources).
    pub fn hdd() -> BlockDeviceConfig {
        BlockDeviceConfig {
            block_size: 4096,
            read_access_ns: 8_000_000,
            write_access_ns: 8_000_000,
            transfer_bytes_per_s: 150_000_000,
            sequential_skips_access: true,
        }
    }

    /// A NAND flash SSD.
    pub fn ssd() -> BlockDeviceConfig {
        BlockDeviceConfig {
            block_size: 4096,
            read_access_ns: 80_000,
            write_access_ns: 20_000,
            transfer_bytes_per_s: 2_000_000_000,
            sequential_skips_access: false,
        }
    }

    /// A low-latency NVMe drive.
    pub fn nvme() -> BlockDeviceConfig {
        BlockDeviceConfig {
            block_size: 4096,
            read_access_ns: 10_000,
            write_access_ns: 10_000,
            transfer_bytes_per_s: 3_000_000_000,
            sequential_skips_access: false,
        }
    }

    /// The preset called `name` (one of [`PRESETS`](BlockDeviceConfig::PRESETS)).
    pub fn preset(name: &str) -> Option<BlockDeviceConfig> {
        match name {
            "hdd" => Some(BlockDeviceConfig::hdd()),
            "ssd" => Some(BlockDeviceConfig::ssd()),
            "nvme" => Some(BlockDeviceConfig::nvme()),
            _ => None,
        }
    }

    /// Checks that the configuration describes a device that can move data.
    pub fn check(&self) -> Result<(), BlockConfigError> {
        if self.block_size == 0 {
            return Err(BlockConfigError {
                field: "block_size",
                message: "must be at least 1 byte".into(),
            });
        }
        if self.transfer_bytes_per_s == 0 {
            return Err(BlockConfigError {
                field: "transfer_bytes_per_s",
                message: "must be at least 1 byte per second".into(),
            });
        }
        Ok(())
    }
}

/// A device configuration that cannot be used: which field, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockConfigError {
    /// The offending field of [`BlockDeviceConfig`].
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for BlockConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "block device {}: {}", self.field, self.message)
    }
}

impl std::error::Error for BlockConfigError {}

/// What a device has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BlockCounters {
    /// Read requests.
    pub reads: u64,
    /// Write requests.
    pub writes: u64,
    /// Blocks read, over all read requests.
    pub blocks_read: u64,
    /// Blocks written, over all write requests.
    pub blocks_written: u64,
    /// Time spent serving requests, in ns: the sum of what
    /// [`read`](BlockDevice::read) and [`write`](BlockDevice::write)
    /// returned.
    pub busy_ns: u64,
}

/// One disk: its timing and its counters.
#[derive(Clone, Debug)]
pub struct BlockDevice {
    config: BlockDeviceConfig,
    counters: BlockCounters,
    /// The block after the last one the previous request touched: where a
    /// disk head stands now. `None` before the first request.
    next_block: Option<u64>,
    /// [`transfer_ns`] of one block, the size of nearly every request (a
    /// page fault's): worked out once, where each request would divide.
    one_block_ns: u64,
}

/// The time `count` blocks take to cross the bus, in ns, rounded up.
fn transfer_ns(config: &BlockDeviceConfig, count: u64) -> u64 {
    // u128: a large request times 10^9 overflows u64.
    let bytes = u128::from(count) * u128::from(config.block_size);
    let ns = (bytes * 1_000_000_000).div_ceil(u128::from(config.transfer_bytes_per_s));
    u64::try_from(ns).unwrap_or(u64::MAX)
}

impl BlockDevice {
    /// A device with `config`'s timing, idle, its counters at zero.
    pub fn new(config: BlockDeviceConfig) -> Result<BlockDevice, BlockConfigError> {
        config.check()?;
        Ok(BlockDevice {
            one_block_ns: transfer_ns(&config, 1),
            config,
            counters: BlockCounters::default(),
            next_block: None,
        })
    }

    /// The device's timing.
    pub fn config(&self) -> &BlockDeviceConfig {
        &self.config
    }

    /// Bytes in one block.
    pub fn block_size(&self) -> u32 {
        self.config.block_size
    }

    /// What the device has done so far.
    pub fn counters(&self) -> BlockCounters {
        self.counters
    }

    /// Reads `count` blocks from `block` on; returns the time taken, in ns.
    /// A request for no blocks costs nothing and is not counted.
    pub fn read(&mut self, block: u64, count: u64) -> u64 {
        if count == 0 {
            return 0;
        }
        let ns = self.request_ns(block, count, self.config.read_access_ns);
        self.counters.reads += 1;
        self.counters.blocks_read += count;
        self.counters.busy_ns = self.counters.busy_ns.saturating_add(ns);
        ns
    }

    /// Writes `count` blocks from `block` on; returns the time taken, in
    /// ns. A request for no blocks costs nothing and is not counted.
    pub fn write(&mut self, block: u64, count: u64) -> u64 {
        if count == 0 {
            return 0;
        }
        let ns = self.request_ns(block, count, self.config.write_access_ns);
        self.counters.writes += 1;
        self.counters.blocks_written += count;
        self.counters.busy_ns = self.counters.busy_ns.saturating_add(ns);
        ns
    }

    /// The cost of one request, and the head moved past it.
    fn request_ns(&mut self, block: u64, count: u64, access_ns: u64) -> u64 {
        let sequential = self.next_block == Some(block);
        self.next_block = block.checked_add(count);
        let access = if sequential && self.config.sequential_skips_access {
            0
        } else {
            access_ns
        };
        let transfer = match count {
            1 => self.one_block_ns,
            _ => transfer_ns(&self.config, count),
        };
        transfer.saturating_add(access)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hdd_random_requests_pay_the_seek_sequential_ones_do_not() {
        let mut disk = BlockDevice::new(BlockDeviceConfig::hdd()).unwrap();
        // One 4096-byte block at 150 MB/s: 4096e9 / 150e6 = 27306.67 ns,
        // rounded up.
        assert_eq!(disk.read(100, 1), 8_000_000 + 27_307);
        // Block 101 follows block 100: no seek.
        assert_eq!(disk.read(101, 1), 27_307);
        // A write continuing the run is sequential too.
        // 8 blocks: 32768e9 / 150e6 = 218453.33 ns.
        assert_eq!(disk.write(102, 8), 218_454);
        // Back to block 0: a seek again.
        assert_eq!(disk.write(0, 1), 8_000_000 + 27_307);
        // The same block again is not "the next one": the head has moved
        // past it.
        assert_eq!(disk.read(0, 1), 8_000_000 + 27_307);
    }

    #[test]
    fn ssd_reads_and_writes_cost_their_own_latency() {
        let mut ssd = BlockDevice::new(BlockDeviceConfig::ssd()).unwrap();
        // 4096 bytes at 2 GB/s: 2048 ns exactly.
        assert_eq!(ssd.read(7, 1), 80_000 + 2_048);
        // No sequential discount on flash.
        assert_eq!(ssd.read(8, 1), 80_000 + 2_048);
        assert_eq!(ssd.write(9, 1), 20_000 + 2_048);
        assert_eq!(ssd.write(10, 4), 20_000 + 8_192);
    }

    #[test]
    fn nvme_rounds_transfer_up() {
        let mut nvme = BlockDevice::new(BlockDeviceConfig::nvme()).unwrap();
        // 4096e9 / 3e9 = 1365.33 ns.
        assert_eq!(nvme.read(0, 1), 10_000 + 1_366);
    }

    #[test]
    fn counters_add_up() {
        let mut disk = BlockDevice::new(BlockDeviceConfig::hdd()).unwrap();
        let mut total = 0;
        total += disk.read(10, 2);
        total += disk.read(12, 3);
        total += disk.write(50, 1);
        total += disk.write(0, 0);
        assert_eq!(
            disk.counters(),
            BlockCounters {
                reads: 2,
                writes: 1,
                blocks_read: 5,
                blocks_written: 1,
                busy_ns: total,
            }
        );
        // 2 seeks (block 10, block 50) and 6 blocks of transfer:
        // 2 × 27306.67 rounded up, 3 × ... rounded up, 1 × ... rounded up.
        let two = 54_614; // 8192e9 / 150e6 = 54613.33
        let three = 81_920; // 12288e9 / 150e6 = 81920 exactly
        assert_eq!(total, 16_000_000 + two + three + 27_307);
    }

    #[test]
    fn unusable_configs_are_errors() {
        let mut config = BlockDeviceConfig::ssd();
        config.transfer_bytes_per_s = 0;
        assert_eq!(
            BlockDevice::new(config).unwrap_err().field,
            "transfer_bytes_per_s"
        );
        let mut config = BlockDeviceConfig::hdd();
        config.block_size = 0;
        assert_eq!(BlockDevice::new(config).unwrap_err().field, "block_size");
    }

    #[test]
    fn presets_by_name() {
        for &name in BlockDeviceConfig::PRESETS {
            let config = BlockDeviceConfig::preset(name).unwrap();
            assert!(config.check().is_ok(), "{name}");
        }
        assert_eq!(BlockDeviceConfig::preset("floppy"), None);
    }
}
