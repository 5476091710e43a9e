//! A stream read a chunk at a time ([`ChunkedOps`]): the driver walks a
//! slice of accesses in a row, and takes a system call (or an error) on
//! its own between slices. Matching an `Option<Result<Op, _>>` per access
//! moved every access through the stack several times over; a slice hands
//! each one to the hot loop straight from the reader's buffer.
//!
//! [`Batched`] turns any stream of [`Op`]s into chunks through a buffer
//! of [`BATCH_ACCESSES`]; a reader that already parses ahead into a buffer
//! (the lackey reader) lends its own slice instead.
//!
//! [`read_on_thread`] reads a stream on a thread of its own while the
//! caller simulates it: [`ThreadedChunks`] hands over the reader's chunks
//! in order through a bounded channel, so reading (decompressing and
//! parsing a trace, drawing a generator's references) overlaps the
//! simulation on a second core, in constant memory. [`read_shared`] reads
//! a stream once for several simulations at once, each on a thread of its
//! own ([`SharedChunks`]), handing them the same buffers.

use crate::op::{MemRef, Op};
use crate::syscall::Syscall;
use crate::trace::TraceError;
use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;

/// A stretch of a stream: accesses in the stream's order, or one system
/// call.
#[derive(Debug)]
pub enum Chunk<'a> {
    /// Accesses in a row (never empty).
    Accesses(&'a [MemRef]),
    /// An address-space system call and its recorded result.
    Syscall(Syscall),
}

/// A stream of accesses and system calls, read a [`Chunk`] at a time.
pub trait ChunkedOps {
    /// The next chunk; `None` at the end. After an error the stream
    /// gives nothing more that means anything.
    fn read_chunk(&mut self) -> Option<Result<Chunk<'_>, TraceError>>;

    /// Whether the stream is known, before its first chunk, to carry no
    /// system calls (a generator's, a version 1 vmlab-bin file): the full
    /// model can then run it on its lean engine. False where unknown.
    fn accesses_only(&mut self) -> bool {
        false
    }

    /// How much of its input the stream has read so far, from 0 to 1,
    /// where that is known (a file of known length, a generator of known
    /// length): what a progress bar shows of a reading many runs share.
    fn fraction_read(&self) -> Option<f64> {
        None
    }
}

/// `done` of `whole`, from 0 to 1, as [`ChunkedOps::fraction_read`] gives
/// it (an empty input is all read).
pub(crate) fn fraction_of(done: u64, whole: u64) -> f64 {
    if whole == 0 {
        1.0
    } else {
        (done as f64 / whole as f64).min(1.0)
    }
}

impl<T: ChunkedOps + ?Sized> ChunkedOps for &mut T {
    #[inline]
    fn read_chunk(&mut self) -> Option<Result<Chunk<'_>, TraceError>> {
        (**self).read_chunk()
    }

    fn accesses_only(&mut self) -> bool {
        (**self).accesses_only()
    }

    fn fraction_read(&self) -> Option<f64> {
        (**self).fraction_read()
    }
}

/// Every op of `chunks` in order, errors included: the stream taken apart
/// again, one op per access (what a reader's `next_op` gives).
pub fn ops_of(mut chunks: impl ChunkedOps) -> Vec<Result<Op, TraceError>> {
    let mut ops = Vec::new();
    while let Some(chunk) = chunks.read_chunk() {
        match chunk {
            Ok(Chunk::Accesses(accesses)) => {
                ops.extend(accesses.iter().map(|&r| Ok(Op::Access(r))));
            }
            Ok(Chunk::Syscall(call)) => ops.push(Ok(Op::Syscall(call))),
            Err(e) => ops.push(Err(e)),
        }
    }
    ops
}

/// Accesses a [`Batched`] stream gathers before handing them on.
pub const BATCH_ACCESSES: usize = 256;

/// Any stream of [`Op`]s read as chunks: accesses gathered in a buffer up
/// to [`BATCH_ACCESSES`] or the next system call or error, which waits for
/// the following chunk.
#[derive(Debug)]
pub struct Batched<I> {
    ops: I,
    buffer: Vec<MemRef>,
    /// What stopped the last gathering early: given next.
    waiting: Option<Result<Syscall, TraceError>>,
    /// Whether `ops` are accesses alone ([`Batched::accesses`]).
    accesses_only: bool,
    /// Accesses taken from `ops` so far, and how many it has in all, if
    /// known ([`Batched::expecting`]).
    taken: u64,
    expected: Option<u64>,
}

impl<I: Iterator<Item = Result<Op, TraceError>>> Batched<I> {
    /// Chunks of `ops`.
    pub fn new(ops: I) -> Batched<I> {
        Batched {
            ops,
            buffer: Vec::with_capacity(BATCH_ACCESSES),
            waiting: None,
            accesses_only: false,
            taken: 0,
            expected: None,
        }
    }

    /// These chunks, of a stream known to hold `accesses` accesses (a
    /// generator's), so they know what fraction of it they have read.
    pub fn expecting(self, accesses: u64) -> Batched<I> {
        Batched {
            expected: Some(accesses),
            ..self
        }
    }
}

/// Chunks of a stream of accesses alone.
pub fn batched_accesses(
    accesses: impl Iterator<Item = Result<MemRef, TraceError>>,
) -> Batched<impl Iterator<Item = Result<Op, TraceError>>> {
    Batched {
        accesses_only: true,
        ..Batched::new(accesses.map(|r| r.map(Op::Access)))
    }
}

impl<I: Iterator<Item = Result<Op, TraceError>>> ChunkedOps for Batched<I> {
    #[inline]
    fn read_chunk(&mut self) -> Option<Result<Chunk<'_>, TraceError>> {
        if let Some(waiting) = self.waiting.take() {
            return Some(waiting.map(Chunk::Syscall));
        }
        self.buffer.clear();
        while self.buffer.len() < BATCH_ACCESSES {
            match self.ops.next() {
                Some(Ok(Op::Access(r))) => self.buffer.push(r),
                Some(Ok(Op::Syscall(call))) => {
                    self.waiting = Some(Ok(call));
                    break;
                }
                Some(Err(e)) => {
                    self.waiting = Some(Err(e));
                    break;
                }
                None => break,
            }
        }
        self.taken += self.buffer.len() as u64;
        if self.buffer.is_empty() {
            return self.waiting.take().map(|w| w.map(Chunk::Syscall));
        }
        Some(Ok(Chunk::Accesses(&self.buffer)))
    }

    fn accesses_only(&mut self) -> bool {
        self.accesses_only
    }

    fn fraction_read(&self) -> Option<f64> {
        Some(fraction_of(self.taken, self.expected?))
    }
}

/// Accesses the reader thread gathers into one hand-over: enough that the
/// channel's cost (and a wake-up of a waiting side) is spread thin.
pub const THREAD_BATCH_ACCESSES: usize = 8192;

/// Hand-overs in flight between the reader thread and its consumer: the
/// reader runs at most this far ahead, which bounds the memory.
const HANDOVERS_IN_FLIGHT: usize = 4;

/// What the reader thread hands over, in the stream's order.
enum Handover {
    Accesses(Vec<MemRef>),
    Syscall(Syscall),
    Error(TraceError),
}

/// The consumer's side of [`read_on_thread`]: the chunks the reader
/// thread read, in order.
#[derive(Debug)]
pub struct ThreadedChunks {
    handovers: Receiver<Handover>,
    /// Emptied buffers go back to the reader to be filled again.
    spare: Sender<Vec<MemRef>>,
    /// The accesses lent by the last [`ChunkedOps::read_chunk`].
    current: Vec<MemRef>,
    /// The stream's [`ChunkedOps::accesses_only`].
    accesses_only: bool,
}

impl ChunkedOps for ThreadedChunks {
    #[inline]
    fn read_chunk(&mut self) -> Option<Result<Chunk<'_>, TraceError>> {
        if !self.current.is_empty() {
            let mut used = std::mem::take(&mut self.current);
            used.clear();
            // The reader may be gone (it stopped at an error or the end).
            let _ = self.spare.send(used);
        }
        // The reader dropping its side is the end of the stream.
        match self.handovers.recv().ok()? {
            Handover::Accesses(accesses) => {
                self.current = accesses;
                Some(Ok(Chunk::Accesses(&self.current)))
            }
            Handover::Syscall(call) => Some(Ok(Chunk::Syscall(call))),
            Handover::Error(e) => Some(Err(e)),
        }
    }

    fn accesses_only(&mut self) -> bool {
        self.accesses_only
    }
}

/// Runs `consume` on the chunks of `chunks`, which are read on a thread of
/// their own meanwhile; returns what `consume` returns. When `consume`
/// stops early the reader stops at its next hand-over. A reader that
/// panics panics here, once `consume` has seen the stream end.
/// `accesses_only` is what the chunks `consume` sees answer to
/// [`ChunkedOps::accesses_only`]: the stream's answer where the caller
/// needs it, asked before the stream moves to its thread (asking may
/// search a whole file), else false. `on_read` hears, from the reader
/// thread, what fraction of its input the stream has read, where it knows,
/// as [`read_shared`]'s does.
pub fn read_on_thread<C, T>(
    chunks: C,
    accesses_only: bool,
    on_read: &(dyn Fn(f64) + Sync),
    consume: impl FnOnce(&mut ThreadedChunks) -> T,
) -> std::io::Result<T>
where
    C: ChunkedOps + Send,
{
    let (handover, handovers) = mpsc::sync_channel(HANDOVERS_IN_FLIGHT);
    let (spare, spares) = mpsc::channel();
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("stream reader".into())
            .spawn_scoped(scope, move || {
                feed(chunks, &mut OneConsumer { handover, spares }, on_read);
            })?;
        let mut threaded = ThreadedChunks {
            handovers,
            spare,
            current: Vec::new(),
            accesses_only,
        };
        let out = consume(&mut threaded);
        // A reader still going finds the channel closed at its next send.
        drop(threaded);
        if let Err(panic) = reader.join() {
            std::panic::resume_unwind(panic);
        }
        Ok(out)
    })
}

/// What the reader thread of [`read_shared`] hands each consumer: the
/// same buffer of accesses to all of them.
enum SharedHandover {
    Accesses(Arc<Vec<MemRef>>),
    Syscall(Syscall),
    Error(Arc<TraceError>),
}

/// A consumer's side of [`read_shared`]: the chunks the reader thread
/// read, in order, the same as every other consumer's.
#[derive(Debug)]
pub struct SharedChunks {
    handovers: Receiver<SharedHandover>,
    /// The accesses lent by the last [`ChunkedOps::read_chunk`]; dropped
    /// at the next, so the reader may fill the buffer again once every
    /// consumer has.
    current: Option<Arc<Vec<MemRef>>>,
    accesses_only: bool,
}

impl ChunkedOps for SharedChunks {
    #[inline]
    fn read_chunk(&mut self) -> Option<Result<Chunk<'_>, TraceError>> {
        self.current = None;
        match self.handovers.recv().ok()? {
            SharedHandover::Accesses(accesses) => {
                let accesses = self.current.insert(accesses);
                Some(Ok(Chunk::Accesses(accesses)))
            }
            SharedHandover::Syscall(call) => Some(Ok(Chunk::Syscall(call))),
            SharedHandover::Error(e) => Some(Err(e.duplicate())),
        }
    }

    fn accesses_only(&mut self) -> bool {
        self.accesses_only
    }
}

/// Runs `consume(i, chunks)` for each consumer `i` below `consumers`, each
/// on a thread of its own, on one reading of `chunks` (on another thread):
/// every consumer sees every chunk in order, as [`read_on_thread`] would
/// show it; `accesses_only` as there. Returns what each returned, in
/// consumer order. The reader runs at most a few hand-overs ahead of the
/// slowest consumer (constant memory); a consumer that stops early hangs
/// up and the others go on; the reader stops when all have. A thread that
/// panics panics here once the others are done. `on_read` hears, from
/// the reader thread, what fraction of its input the stream has read
/// ([`ChunkedOps::fraction_read`]), where it knows, as it reads.
///
/// What it is for: a sweep's configurations over a trace whose reading
/// (parsing text, decompressing) costs about as much as simulating it,
/// which each configuration would otherwise read again.
pub fn read_shared<C, T>(
    chunks: C,
    accesses_only: bool,
    consumers: usize,
    on_read: &(dyn Fn(f64) + Sync),
    consume: impl Fn(usize, &mut SharedChunks) -> T + Sync,
) -> std::io::Result<Vec<T>>
where
    C: ChunkedOps + Send,
    T: Send,
{
    std::thread::scope(|scope| {
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..consumers)
            .map(|_| mpsc::sync_channel(HANDOVERS_IN_FLIGHT))
            .unzip();
        let mut threads = Vec::with_capacity(consumers);
        let consume = &consume;
        for (i, handovers) in receivers.into_iter().enumerate() {
            let thread = std::thread::Builder::new()
                .name(format!("stream consumer {i}"))
                .spawn_scoped(scope, move || {
                    consume(
                        i,
                        &mut SharedChunks {
                            handovers,
                            current: None,
                            accesses_only,
                        },
                    )
                });
            // If this fails, the consumers started so far see their
            // streams end as `senders` drop on the way out, and return.
            threads.push(thread?);
        }
        let reader = std::thread::Builder::new()
            .name("stream reader".into())
            .spawn_scoped(scope, move || {
                let handovers = senders.into_iter().map(Some).collect();
                feed(
                    chunks,
                    &mut AllConsumers {
                        handovers,
                        sent: VecDeque::new(),
                    },
                    on_read,
                );
            })?;
        let outs: Vec<std::thread::Result<T>> = threads.into_iter().map(|t| t.join()).collect();
        let read = reader.join();
        let mut results = Vec::with_capacity(outs.len());
        for out in outs.into_iter().chain(read.err().map(Err)) {
            match out {
                Ok(out) => results.push(out),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(results)
    })
}

/// Where the reader thread's hand-overs go: one consumer or many.
trait Handing {
    /// An empty buffer to gather the next accesses in.
    fn buffer(&mut self) -> Vec<MemRef>;
    /// Hands `handover` over; false once no one takes any more.
    fn hand(&mut self, handover: Handover) -> bool;
}

/// [`read_on_thread`]'s one consumer, who sends emptied buffers back.
struct OneConsumer {
    handover: SyncSender<Handover>,
    spares: Receiver<Vec<MemRef>>,
}

impl Handing for OneConsumer {
    fn buffer(&mut self) -> Vec<MemRef> {
        self.spares
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(THREAD_BATCH_ACCESSES))
    }

    fn hand(&mut self, handover: Handover) -> bool {
        self.handover.send(handover).is_ok()
    }
}

/// [`read_shared`]'s consumers (`None`: hung up), and the buffers sent to
/// them, oldest first: one is filled again once no consumer holds it.
struct AllConsumers {
    handovers: Vec<Option<SyncSender<SharedHandover>>>,
    sent: VecDeque<Arc<Vec<MemRef>>>,
}

impl Handing for AllConsumers {
    fn buffer(&mut self) -> Vec<MemRef> {
        // Consumers take buffers in the order sent, so the oldest is the
        // first to be free; the reader waits on the slowest consumer, so
        // a few buffers at most are ever out.
        if let Some(oldest) = self.sent.front_mut() {
            if let Some(free) = Arc::get_mut(oldest) {
                let mut buffer = std::mem::take(free);
                self.sent.pop_front();
                buffer.clear();
                return buffer;
            }
        }
        Vec::with_capacity(THREAD_BATCH_ACCESSES)
    }

    fn hand(&mut self, handover: Handover) -> bool {
        let shared = match handover {
            Handover::Accesses(accesses) => {
                let accesses = Arc::new(accesses);
                self.sent.push_back(accesses.clone());
                SharedHandover::Accesses(accesses)
            }
            Handover::Syscall(call) => SharedHandover::Syscall(call),
            Handover::Error(e) => SharedHandover::Error(Arc::new(e)),
        };
        for slot in &mut self.handovers {
            let copy = match &shared {
                SharedHandover::Accesses(a) => SharedHandover::Accesses(a.clone()),
                SharedHandover::Syscall(call) => SharedHandover::Syscall(*call),
                SharedHandover::Error(e) => SharedHandover::Error(e.clone()),
            };
            if slot.as_ref().is_some_and(|to| to.send(copy).is_err()) {
                *slot = None;
            }
        }
        self.handovers.iter().any(Option::is_some)
    }
}

/// The reader thread: reads `chunks` to its end, its first error, or until
/// no consumer takes hand-overs, handing accesses over a buffer at a time
/// and telling `on_read` how far it has read before each.
fn feed(mut chunks: impl ChunkedOps, to: &mut impl Handing, on_read: &dyn Fn(f64)) {
    let mut buffer = to.buffer();
    while let Some(chunk) = chunks.read_chunk() {
        let after = match chunk {
            Ok(Chunk::Accesses(accesses)) => {
                buffer.extend_from_slice(accesses);
                if buffer.len() < THREAD_BATCH_ACCESSES {
                    continue;
                }
                None
            }
            Ok(Chunk::Syscall(call)) => Some(Handover::Syscall(call)),
            Err(e) => Some(Handover::Error(e)),
        };
        if !buffer.is_empty() {
            if let Some(fraction) = chunks.fraction_read() {
                on_read(fraction);
            }
            let next = to.buffer();
            let full = std::mem::replace(&mut buffer, next);
            if !to.hand(Handover::Accesses(full)) {
                return;
            }
        }
        if let Some(after) = after {
            let error = matches!(after, Handover::Error(_));
            if !to.hand(after) || error {
                return;
            }
        }
    }
    if !buffer.is_empty() {
        to.hand(Handover::Accesses(buffer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::AddressCall;

    fn call(n: u64) -> Syscall {
        Syscall {
            call: AddressCall::Brk { addr: n },
            result: Ok(n),
        }
    }

    /// The chunks of `ops` flattened back into ops, errors as their text.
    fn flatten(ops: Vec<Result<Op, TraceError>>) -> Vec<Result<Op, String>> {
        ops_of(Batched::new(ops.into_iter()))
            .into_iter()
            .map(|op| op.map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn accesses_are_gathered_a_batch_at_a_time() {
        let ops = (0..1000u64).map(|i| Ok(Op::Access(MemRef::read(i, 1))));
        let mut chunks = Batched::new(ops);
        let mut lengths = Vec::new();
        while let Some(Ok(Chunk::Accesses(rs))) = chunks.read_chunk() {
            lengths.push(rs.len());
        }
        assert_eq!(lengths, [256, 256, 256, 232]);
    }

    #[test]
    fn chunks_keep_every_op_in_order_across_batch_boundaries() {
        let mut ops = Vec::new();
        for i in 0..1000u64 {
            ops.push(Op::Access(MemRef::read(i * 8, 8)));
            if i % 300 == 7 || i == 511 || i == 512 {
                ops.push(Op::Syscall(call(i)));
            }
        }
        let back = flatten(ops.iter().copied().map(Ok).collect());
        assert_eq!(back, ops.into_iter().map(Ok).collect::<Vec<_>>());
    }

    #[test]
    fn an_error_comes_after_the_accesses_before_it() {
        let err = TraceError::at_line(&"t".into(), 3, 1, "an access", "x".into());
        let ops = vec![
            Ok(Op::Access(MemRef::read(0, 1))),
            Ok(Op::Access(MemRef::write(8, 1))),
            Err(err),
        ];
        let back = flatten(ops);
        assert_eq!(back.len(), 3);
        assert_eq!(back[1], Ok(Op::Access(MemRef::write(8, 1))));
        assert!(back[2].as_ref().is_err_and(|e| e.contains("t:3:1")));
    }

    /// Ops spanning several of the reader thread's hand-overs, with system
    /// calls at and around their edges and an error at the end.
    fn long_stream() -> Vec<Result<Op, TraceError>> {
        let mut ops = Vec::new();
        let edge = THREAD_BATCH_ACCESSES as u64;
        for i in 0..3 * edge + 100 {
            ops.push(Ok(Op::Access(MemRef::read(i * 8, 8))));
            if i % 5000 == 3 || i == edge - 1 || i == edge || i == 2 * edge + 1 {
                ops.push(Ok(Op::Syscall(call(i))));
            }
        }
        ops.push(Err(TraceError::at_line(
            &"t".into(),
            9,
            2,
            "an access",
            "x".into(),
        )));
        ops
    }

    fn as_text(ops: Vec<Result<Op, TraceError>>) -> Vec<Result<Op, String>> {
        ops.into_iter()
            .map(|op| op.map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn a_stream_read_on_a_thread_keeps_every_op_in_order() {
        let direct = as_text(ops_of(Batched::new(long_stream().into_iter())));
        let threaded = read_on_thread(
            Batched::new(long_stream().into_iter()),
            false,
            &|_| {},
            |c| ops_of(c),
        )
        .unwrap();
        assert_eq!(as_text(threaded), direct);
        assert!(direct
            .last()
            .unwrap()
            .as_ref()
            .is_err_and(|e| e.contains("t:9:2")));
    }

    /// A stream with no end.
    struct Endless(Vec<MemRef>);

    impl ChunkedOps for Endless {
        fn read_chunk(&mut self) -> Option<Result<Chunk<'_>, TraceError>> {
            Some(Ok(Chunk::Accesses(&self.0)))
        }
    }

    #[test]
    fn a_consumer_that_stops_early_stops_the_reader() {
        let endless = Endless(vec![MemRef::read(0, 1); 100]);
        let seen = read_on_thread(endless, false, &|_| {}, |chunks| {
            let mut seen = 0;
            for _ in 0..3 {
                if let Some(Ok(Chunk::Accesses(a))) = chunks.read_chunk() {
                    seen += a.len();
                }
            }
            seen
        });
        // Returning at all shows the reader stopped. Each hand-over is
        // whole chunks of 100, at least a batch.
        assert_eq!(seen.unwrap(), 3 * THREAD_BATCH_ACCESSES.div_ceil(100) * 100);
    }

    #[test]
    fn every_consumer_of_a_shared_reading_sees_the_whole_stream_in_order() {
        let direct = as_text(ops_of(Batched::new(long_stream().into_iter())));
        for consumers in [1, 2, 5] {
            let shared = read_shared(
                Batched::new(long_stream().into_iter()),
                true,
                consumers,
                &|_| {},
                |i, c| (i, c.accesses_only(), as_text(ops_of(c))),
            )
            .unwrap();
            assert_eq!(shared.len(), consumers);
            for (at, (i, accesses_only, ops)) in shared.into_iter().enumerate() {
                assert_eq!(i, at, "results in consumer order");
                assert!(accesses_only);
                assert_eq!(ops, direct, "consumer {i} of {consumers}");
            }
        }
    }

    #[test]
    fn a_consumer_that_stops_early_leaves_the_others_the_whole_stream() {
        let direct = as_text(ops_of(Batched::new(long_stream().into_iter())));
        let stream = Batched::new(long_stream().into_iter());
        let shared = read_shared(stream, false, 3, &|_| {}, |i, c| {
            if i == 1 {
                // One chunk, then hang up.
                let _ = c.read_chunk();
                return Vec::new();
            }
            as_text(ops_of(c))
        })
        .unwrap();
        assert!(shared[1].is_empty());
        assert_eq!(shared[0], direct);
        assert_eq!(shared[2], direct);
        // When every consumer stops, so does the reader of an endless
        // stream: returning at all shows it.
        let endless = Endless(vec![MemRef::read(0, 1); 100]);
        let seen = read_shared(endless, false, 2, &|_| {}, |_, c| match c.read_chunk() {
            Some(Ok(Chunk::Accesses(a))) => a.len(),
            _ => 0,
        });
        assert_eq!(
            seen.unwrap(),
            vec![THREAD_BATCH_ACCESSES.div_ceil(100) * 100; 2]
        );
    }

    #[test]
    fn a_shared_reading_tells_how_far_it_has_read() {
        let ops = long_stream();
        let accesses = ops
            .iter()
            .filter(|op| matches!(op, Ok(Op::Access(_))))
            .count() as u64;
        let heard = std::sync::Mutex::new(Vec::new());
        let stream = Batched::new(ops.into_iter()).expecting(accesses);
        read_shared(
            stream,
            false,
            2,
            &|f| heard.lock().unwrap().push(f),
            |_, c| ops_of(c).len(),
        )
        .unwrap();
        let heard = heard.into_inner().unwrap();
        // One consumer on a thread of its own hears the same.
        let alone = std::sync::Mutex::new(Vec::new());
        let stream = Batched::new(long_stream().into_iter()).expecting(accesses);
        read_on_thread(stream, false, &|f| alone.lock().unwrap().push(f), |c| {
            ops_of(c)
        })
        .unwrap();
        assert_eq!(alone.into_inner().unwrap(), heard);
        // Before each hand-over of accesses: the three batches and the
        // pieces the system calls cut off, each further on, the last past
        // the third batch.
        assert!(heard.len() >= 3, "{heard:?}");
        assert!(heard.windows(2).all(|w| w[0] < w[1]), "{heard:?}");
        let edge = THREAD_BATCH_ACCESSES as f64;
        assert!(heard[0] > 0.0 && heard[0] <= (edge + 1.0) / accesses as f64);
        assert!(*heard.last().unwrap() >= 3.0 * edge / accesses as f64);
        assert!(*heard.last().unwrap() <= 1.0);
        // A stream of unknown length tells nothing.
        let heard = std::sync::Mutex::new(0);
        let stream = Batched::new(long_stream().into_iter());
        read_shared(
            stream,
            false,
            1,
            &|_| *heard.lock().unwrap() += 1,
            |_, c| ops_of(c).len(),
        )
        .unwrap();
        assert_eq!(heard.into_inner().unwrap(), 0);
    }

    #[test]
    fn a_shared_reader_that_panics_panics_in_the_caller() {
        let outcome = std::panic::catch_unwind(|| {
            read_shared(Breaks(false), false, 2, &|_| {}, |_, c| ops_of(c).len())
        });
        let panic = outcome.unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"the reader broke"));
    }

    /// A stream whose reading panics after one chunk.
    struct Breaks(bool);

    impl ChunkedOps for Breaks {
        fn read_chunk(&mut self) -> Option<Result<Chunk<'_>, TraceError>> {
            assert!(!std::mem::replace(&mut self.0, true), "the reader broke");
            Some(Ok(Chunk::Syscall(call(1))))
        }
    }

    #[test]
    fn a_reader_that_panics_panics_in_the_consumer() {
        let outcome = std::panic::catch_unwind(|| {
            read_on_thread(Breaks(false), false, &|_| {}, |c| ops_of(c))
        });
        let panic = outcome.unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"the reader broke"));
    }
}
