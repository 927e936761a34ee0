import Foundation
import TraceFormat

/// A bounded queue between the tracing thread and the writer thread.
///
/// The tracing thread never waits for the disk: when the queue is full the event is dropped and
/// counted, and the writer records a `LostEvents` entry (count and interval) once it catches up. The
/// writer seals chunks at least every 50 ms so a crash loses at most ~100 ms of events.
final class EventQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var buffer: [TraceEvent] = []
    private let capacity: Int
    private var closed = false
    private var lost: (count: UInt64, from: UInt64, to: UInt64)?
    private(set) var failure: TraceError?
    private let writer: TraceWriter
    private var thread: Thread?
    private let status: ((String) -> Void)?
    private var done = false
    /// Cleared by `stopRecording`: later events are neither written nor counted as lost.
    private var recording = true

    // Statistics, read under the lock.
    private(set) var enqueued: UInt64 = 0
    /// Events dropped because the queue was full (each run of them gets a `LostEvents` marker).
    private(set) var dropped: UInt64 = 0
    /// Events not written because the file had failed before they came.
    private(set) var discarded: UInt64 = 0
    /// Events the format cannot hold (`TraceError.Code.invalidEvent`), left out while the recording went on.
    private(set) var rejected: UInt64 = 0
    /// Each `LostEvents` marker appended: its index among the file's events, and the events it stands for.
    /// Only those below the writer's sealed count are in the file.
    private var markers: [(index: UInt64, count: UInt64)] = []

    init(writer: TraceWriter, capacity: Int = 1 << 16, status: ((String) -> Void)? = nil) {
        self.writer = writer
        self.capacity = capacity
        self.status = status
        buffer.reserveCapacity(capacity)
    }

    func start() {
        let t = Thread { [self] in writerLoop() }
        t.name = "vfiotrace-writer"
        thread = t
        t.start()
    }

    /// Called on the tracing thread; never blocks on I/O.
    func push(_ e: TraceEvent) {
        condition.lock()
        defer { condition.unlock() }
        guard recording else { return }
        if failure != nil {
            discarded += 1
        } else if buffer.count >= capacity {
            dropped += 1
            if var l = lost {
                l.count += 1
                l.to = e.endTime
                lost = l
            } else {
                lost = (1, e.time, e.endTime)
            }
        } else {
            buffer.append(e)
            enqueued += 1
            // The writer wakes by itself every 50 ms; waking it per event would cost a context switch
            // on the tracing path. Only a filling queue calls it early.
            if buffer.count == capacity / 2 { condition.signal() }
        }
    }

    /// Ends the recording (e.g. --duration in launch mode) while the tracer goes on serving stops.
    func stopRecording() {
        condition.lock()
        recording = false
        condition.unlock()
    }

    var writeFailure: TraceError? {
        condition.lock()
        defer { condition.unlock() }
        return failure
    }

    private func writerLoop() {
        var batch: [TraceEvent] = []
        batch.reserveCapacity(capacity)
        let started = MonotonicClock.now()
        var lastStatus = started
        while true {
            condition.lock()
            if buffer.isEmpty && !closed { _ = condition.wait(until: Date(timeIntervalSinceNow: 0.05)) }
            swap(&batch, &buffer)
            let lostNow = lost
            lost = nil
            let finished = closed && batch.isEmpty
            condition.unlock()
            do {
                for e in batch {
                    do { try writer.append(e) } catch  where error.code == .invalidEvent {
                        // One event the format cannot hold (the writer is still sound): leave it out, go on.
                        condition.lock()
                        rejected += 1
                        condition.unlock()
                    }
                }
                if let l = lostNow {
                    try writer.append(
                        TraceEvent(
                            time: l.from, endTime: l.to, pid: 0, tid: 0, payload: .lost(LostEvents(count: l.count, fromNs: l.from, toNs: l.to))))
                    let index = writer.eventsWritten + UInt64(writer.pendingEvents) - 1
                    condition.lock()
                    markers.append((index, l.count))
                    condition.unlock()
                }
                try writer.sealIfDue()
            } catch {
                condition.lock()
                failure = error
                discarded += UInt64(buffer.count)
                buffer.removeAll()
                condition.unlock()
            }
            batch.removeAll(keepingCapacity: true)
            let now = MonotonicClock.now()
            if let status, now - lastStatus >= 500_000_000 {
                lastStatus = now
                let secs = Double(now - started) / 1e9
                let rate = (Double(writer.eventsWritten) / max(secs, 0.001)).rounded()
                status(
                    "\(writer.eventsWritten + UInt64(writer.pendingEvents)) events, \(writer.bytesWritten) bytes written, "
                        + "\(rate < 1e15 ? String(Int(rate)) : "?") events/s, \(dropped) lost")
            }
            if finished { break }
        }
        condition.lock()
        done = true
        condition.broadcast()
        condition.unlock()
    }

    /// How many of the dropped events are marked in the file: those whose marker lies within the first
    /// `sealedEvents` events (the ones in complete chunks).
    func lostMarked(sealedEvents: UInt64) -> UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return markers.filter { $0.index < sealedEvents }.reduce(0) { $0 + $1.count }
    }

    /// Drains everything, stops the writer thread; the caller then closes the writer.
    func finish() {
        condition.lock()
        closed = true
        condition.signal()
        while !done { condition.wait() }
        condition.unlock()
    }
}
