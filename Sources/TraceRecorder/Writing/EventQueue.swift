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
    private(set) var dropped: UInt64 = 0

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
        if buffer.count >= capacity || failure != nil {
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
                for e in batch { try writer.append(e) }
                if let l = lostNow {
                    try writer.append(
                        TraceEvent(
                            time: l.from, endTime: l.to, pid: 0, tid: 0, payload: .lost(LostEvents(count: l.count, fromNs: l.from, toNs: l.to))))
                }
                try writer.sealIfDue()
            } catch {
                condition.lock()
                failure = error
                buffer.removeAll()
                condition.unlock()
            }
            batch.removeAll(keepingCapacity: true)
            let now = MonotonicClock.now()
            if let status, now - lastStatus >= 500_000_000 {
                lastStatus = now
                let secs = Double(now - started) / 1e9
                status(
                    "\(writer.eventsWritten + UInt64(writer.pendingEvents)) events, \(writer.bytesWritten) bytes written, "
                        + "\(Int(Double(writer.eventsWritten) / max(secs, 0.001))) events/s, \(dropped) lost")
            }
            if finished { break }
        }
        condition.lock()
        done = true
        condition.broadcast()
        condition.unlock()
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
