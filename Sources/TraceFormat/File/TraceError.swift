/// An error reading or writing a trace, with enough context to act on: file, chunk, byte offset.
public struct TraceError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What went wrong, matchable in tests (`#expect(throws:)` compares codes).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The file is empty, or does not start with the trace magic.
        public static let notATrace = Code("not-a-trace")
        /// Written by a newer format version than this reader understands.
        public static let unsupportedVersion = Code("unsupported-version")
        /// The file header is damaged.
        public static let corruptHeader = Code("corrupt-header")
        /// The file ends in the middle of a header, chunk or footer.
        public static let truncated = Code("truncated")
        /// A chunk failed its checks (CRC, sizes, decompression, decoding).
        public static let corruptChunk = Code("corrupt-chunk")
        /// Bytes between chunks that are neither a chunk nor the footer.
        public static let garbage = Code("garbage")
        /// The footer index is damaged (chunks are still readable).
        public static let corruptFooter = Code("corrupt-footer")
        /// A system call on the file failed (open, read, write: disk full, permissions).
        public static let io = Code("io")
        /// An event could not be encoded (value out of range for the format).
        public static let invalidEvent = Code("invalid-event")
    }

    public var code: Code
    public var message: String
    public var path: String?
    /// Sequence number of the chunk concerned, when known.
    public var chunk: UInt64?
    /// Byte offset in the file where the problem was found.
    public var offset: UInt64?

    public init(_ code: Code, _ message: String, path: String? = nil, chunk: UInt64? = nil, offset: UInt64? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.chunk = chunk
        self.offset = offset
    }

    /// One line: `file: chunk 3 at byte 1234: message`.
    public var description: String {
        var parts: [String] = []
        if let path { parts.append(path) }
        var location: [String] = []
        if let chunk { location.append("chunk \(chunk)") }
        if let offset { location.append("at byte \(offset)") }
        if !location.isEmpty { parts.append(location.joined(separator: " ")) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }

    public static func == (lhs: TraceError, rhs: TraceError) -> Bool { lhs.code == rhs.code }
}
