public import TraceFormat

/// Merges traces from several sources onto the first file's CLOCK_MONOTONIC timeline.
///
/// Each file's (monotonic, realtime) pair at start gives its offset to wall-clock time; a time t of
/// file i maps to t + offset(i) − offset(0). Events are interleaved by completion time with a
/// streaming k-way merge (one chunk per input in memory).
public enum TraceMerger {
    /// Writes the merge of `inputs` to `output`; returns the number of events and the damage found in the
    /// inputs (their damaged chunks are left out, every intact one merged).
    @discardableResult
    public static func merge(inputs: [String], output: String) throws -> (events: UInt64, damage: [TraceError]) {
        precondition(!inputs.isEmpty)
        try FileIdentity.refuseRepeats(inputs + [output], "each input is merged once, and the output must be a new file")
        let readers = try inputs.map { try TraceReader(path: $0) }
        let base = readers[0].header.startClock.offsetNs
        let shifts = readers.map { $0.header.startClock.offsetNs &- base }
        var header = readers[0].header
        header.source = "merge"
        header.command = ["merge"] + inputs
        header.pids = Array(Set(readers.flatMap(\.header.pids))).sorted()
        let writer = try TraceWriter(path: output, header: header)
        // Per input: its current chunk's events (shifted) and a cursor.
        var buffers: [[TraceEvent]] = Array(repeating: [], count: readers.count)
        var cursors = Array(repeating: 0, count: readers.count)
        func refill(_ i: Int) throws {
            buffers[i].removeAll(keepingCapacity: true)
            cursors[i] = 0
            while buffers[i].isEmpty, try readers[i].nextChunk(into: &buffers[i]) != nil {}
            let s = UInt64(bitPattern: shifts[i])
            if s != 0 {
                for j in buffers[i].indices {
                    buffers[i][j].time &+= s
                    buffers[i][j].endTime &+= s
                }
            }
            // Within a chunk events are in completion order already; keep it stable by completion time.
            buffers[i].sort { $0.endTime < $1.endTime }
        }
        for i in readers.indices { try refill(i) }
        var written: UInt64 = 0
        while true {
            var best = -1
            for i in readers.indices where cursors[i] < buffers[i].count {
                if best < 0 || buffers[i][cursors[i]].endTime < buffers[best][cursors[best]].endTime { best = i }
            }
            guard best >= 0 else { break }
            try writer.append(buffers[best][cursors[best]])
            written += 1
            cursors[best] += 1
            if cursors[best] == buffers[best].count { try refill(best) }
        }
        var close = readers[0].footer?.closeClock ?? .now()
        close.monotonicNs = max(close.monotonicNs, 0)
        try writer.close(closeClock: close)
        return (written, readers.flatMap(\.damage))
    }
}
