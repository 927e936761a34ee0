#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Where an importer reads its log from: a file, or bytes already in memory (a fuzz driver's input).
public enum LogSource: Sendable {
    case file(String)
    /// `name` stands for the path in diagnostics.
    case bytes([UInt8], name: String)

    /// What diagnostics call the input.
    public var name: String {
        switch self {
        case .file(let path): path
        case .bytes(_, let name): name
        }
    }
}

/// A log's lines, read in bounded blocks so memory does not grow with the input.
///
/// The input is read `blockBytes` at a time into one reused buffer; a line split across blocks is carried
/// over, up to `maxLineBytes`. A longer line is not accumulated: its bytes are dropped as they arrive and
/// it is reported once, by number, when its end is reached.
enum LogLines {
    static let blockBytes = 1 << 20
    /// The longest line an importer looks at (bytes, without the newline).
    static let maxLineBytes = 1 << 20

    /// Calls `line` with each line's number (from 1) and bytes (without its "\n"), and `tooLong` with the
    /// number of each line longer than `maxLineBytes`. A failed read throws, naming the line it stopped in.
    static func scan(
        _ source: LogSource, maxLineBytes: Int = maxLineBytes, line: (Int, UnsafeBufferPointer<UInt8>) throws -> Void,
        tooLong: (Int) throws -> Void
    ) throws {
        var splitter = Splitter(maxLineBytes: maxLineBytes)
        switch source {
        case .bytes(let bytes, _):
            try bytes.withUnsafeBufferPointer { all in
                var start = 0
                while start < all.count {
                    let end = min(all.count, start + blockBytes)
                    try splitter.feed(UnsafeBufferPointer(rebasing: all[start..<end]), line: line, tooLong: tooLong)
                    start = end
                }
            }
        case .file(let path):
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ImportProblem(path: path, line: 0, message: "cannot read the file (\(errnoText()))") }
            defer { close(fd) }
            var block = [UInt8](repeating: 0, count: blockBytes)
            while true {
                let n = block.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ImportProblem(path: path, line: splitter.number, message: "cannot read the file (\(errnoText()))")
                }
                if n == 0 { break }
                try block.withUnsafeBufferPointer { try splitter.feed(UnsafeBufferPointer(rebasing: $0[0..<n]), line: line, tooLong: tooLong) }
            }
        }
        try splitter.finish(line: line, tooLong: tooLong)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// Splits blocks into lines, carrying a partial line (bounded) from one block to the next.
    struct Splitter {
        let maxLineBytes: Int
        /// The number of the line being read.
        var number = 1
        var carry: [UInt8] = []
        /// The current line is already longer than `maxLineBytes`: drop its bytes until its newline.
        var overlong = false

        init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

        mutating func feed(
            _ block: UnsafeBufferPointer<UInt8>, line: (Int, UnsafeBufferPointer<UInt8>) throws -> Void, tooLong: (Int) throws -> Void
        ) throws {
            guard let base = block.baseAddress else { return }
            var start = 0
            while start < block.count {
                let found = memchr(base + start, 10, block.count - start)
                let end = found.map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) - base } ?? block.count
                let segment = UnsafeBufferPointer(rebasing: block[start..<end])
                if !overlong && carry.count + segment.count > maxLineBytes {
                    overlong = true
                    carry = []  // give the memory back: the line is reported, never read
                }
                guard found != nil else {
                    if !overlong { carry.append(contentsOf: segment) }
                    return
                }
                if overlong {
                    try tooLong(number)
                } else if carry.isEmpty {
                    try line(number, segment)
                } else {
                    carry.append(contentsOf: segment)
                    try carry.withUnsafeBufferPointer { try line(number, $0) }
                    carry.removeAll(keepingCapacity: true)
                }
                overlong = false
                number += 1
                start = end + 1
            }
        }

        /// The last line, when the input does not end with a newline.
        mutating func finish(line: (Int, UnsafeBufferPointer<UInt8>) throws -> Void, tooLong: (Int) throws -> Void) throws {
            if overlong {
                try tooLong(number)
            } else if !carry.isEmpty {
                try carry.withUnsafeBufferPointer { try line(number, $0) }
            }
            carry = []
            overlong = false
        }
    }
}
