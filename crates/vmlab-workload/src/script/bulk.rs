//! The bulk memory operations a script calls as one step, executed here
//! rather than as a script loop so that scripts stay fast: `fill`
//! (memset), `copy` (memmove), `compare` (memcmp) and `touch` (one access
//! every `stride` bytes). They are the program's own code, not library
//! calls: each moves its bytes through the library's user accesses (a
//! word at a time in its accounting), page piece by page piece, so every
//! page is translated (and faulted in) as the program's own loads and
//! stores would be.

use vmlab_kernel::frames::Pid;
use vmlab_libc::{Libc, LibcError};

/// The chunk the operations move at a time: one base page, so a chunk
/// never needs more than two translations per side.
fn chunk_len(k: &Libc, left: u64) -> usize {
    k.kernel().page_bytes().min(left) as usize
}

/// memset: `len` bytes at `addr` become `byte`.
pub(crate) fn fill(k: &mut Libc, pid: Pid, addr: u64, len: u64, byte: u8) -> Result<(), LibcError> {
    let chunk = vec![byte; chunk_len(k, len)];
    let mut done = 0;
    while done < len {
        let n = chunk_len(k, len - done);
        k.write_bytes(pid, addr.wrapping_add(done), &chunk[..n])?;
        done += n as u64;
    }
    Ok(())
}

/// memmove: `len` bytes from `src` to `dst`; overlapping ranges copy as if
/// through a temporary buffer (chunks go backwards when `dst` is above
/// `src`, so no chunk reads bytes an earlier chunk overwrote).
pub(crate) fn copy(k: &mut Libc, pid: Pid, dst: u64, src: u64, len: u64) -> Result<(), LibcError> {
    let mut buf = vec![0; chunk_len(k, len)];
    let backwards = dst > src && dst - src < len;
    let mut done = 0;
    while done < len {
        let n = chunk_len(k, len - done);
        let offset = if backwards {
            len - done - n as u64
        } else {
            done
        };
        k.read_bytes(pid, src.wrapping_add(offset), &mut buf[..n])?;
        k.write_bytes(pid, dst.wrapping_add(offset), &buf[..n])?;
        done += n as u64;
    }
    Ok(())
}

/// memcmp: -1, 0 or 1 as the first differing byte of `a` is below, equal
/// to or above `b`'s.
pub(crate) fn compare(k: &mut Libc, pid: Pid, a: u64, b: u64, len: u64) -> Result<i64, LibcError> {
    let mut left = vec![0; chunk_len(k, len)];
    let mut right = left.clone();
    let mut done = 0;
    while done < len {
        let n = chunk_len(k, len - done);
        k.read_bytes(pid, a.wrapping_add(done), &mut left[..n])?;
        k.read_bytes(pid, b.wrapping_add(done), &mut right[..n])?;
        let order = left[..n].cmp(&right[..n]);
        if order.is_ne() {
            return Ok(order as i64);
        }
        done += n as u64;
    }
    Ok(0)
}

/// One access (a store when `write`, else a load) at `addr`, `addr +
/// stride`, ... below `addr + len`; returns how many. The accesses move no
/// data: a store leaves the byte as it was, but dirties its page and
/// breaks copy-on-write sharing as any store does.
pub(crate) fn touch(
    k: &mut Libc,
    pid: Pid,
    addr: u64,
    len: u64,
    stride: u64,
    write: bool,
) -> Result<u64, LibcError> {
    let mut count = 0;
    let mut offset = 0;
    while offset < len {
        k.access(pid, addr.wrapping_add(offset), write)?;
        count += 1;
        offset = offset.saturating_add(stride);
    }
    Ok(count)
}
