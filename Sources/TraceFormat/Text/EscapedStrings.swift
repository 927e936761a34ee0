/// The escaped forms of one chunk's strings, each made once per chunk rather than once per event that names it:
/// a device name shown on a million lines is checked and escaped once.
///
/// The forms are kept for the string table they were made from. `use(_:)` keeps them while it is handed that same
/// table and starts afresh for any other: it holds the table it was made from, so a table read into the chunk after
/// it (a new chunk's) cannot be written into the same array storage (an array shared is copied before it changes),
/// and the same storage means the same strings.
struct EscapedStrings {
    /// How strings are escaped.
    enum Style {
        /// As a terminal line needs them (`TextBuffer.escaped`): `dump`'s text.
        case terminal
        /// As JSON string literals, quotes included (`JSONText.quote`): `dump --format jsonl`.
        case json
    }

    /// Where one table entry's escaped form lies in `forms`; `count` < 0 until it is made.
    private struct Span {
        var start: Int
        var count: Int
        static let notYet = Span(start: 0, count: -1)
    }

    let style: Style
    /// The string table the forms were made from.
    private(set) var table: [String] = []
    /// Per table entry.
    private var spans: [Span] = []
    /// The escaped forms made so far, one after the other.
    private var forms = TextBuffer(capacity: 0)
    /// Forms made since the table last changed (for tests).
    private(set) var made = 0

    init(_ style: Style) { self.style = style }

    /// Appends `s` escaped in this style.
    func escape(_ s: String, into b: inout TextBuffer) {
        switch style {
        case .terminal: b.escaped(s)
        case .json: JSONText.quote(s, into: &b)
        }
    }

    /// Appends `s` escaped in this style (as `escape(_:into:)` appends it to a `TextBuffer`).
    func escape(_ s: String, into c: inout ByteCursor) {
        var s = s
        let plain = s.withUTF8 { u in
            guard style == .terminal ? TerminalText.isPlain(u) : JSONText.isPlain(u) else { return false }
            if style == .json { c.byte(0x22) }
            c.append(u)
            if style == .json { c.byte(0x22) }
            return true
        }
        guard !plain else { return }
        var b = TextBuffer(capacity: 0)
        escape(s, into: &b)
        c.append(b.bytes)
    }

    /// Makes `t` the table entries are looked up in, keeping the forms made so far if it is the same table.
    @inline(__always)
    mutating func use(_ t: [String]) {
        if !Self.same(t, table) { reset(t) }
    }

    /// True when `a` and `b` share their storage (so hold the same strings).
    @inline(__always)
    private static func same(_ a: [String], _ b: [String]) -> Bool {
        a.count == b.count && a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in x.baseAddress == y.baseAddress } }
    }

    private mutating func reset(_ t: [String]) {
        table = t
        spans.removeAll(keepingCapacity: true)
        spans.append(contentsOf: repeatElement(Span.notYet, count: t.count))
        forms.removeAll()
        made = 0
    }

    /// The span of entry `i` (made now if not yet); nil for an index outside the table.
    @inline(__always)
    private mutating func span(_ i: Int) -> Span? {
        guard i >= 0 && i < spans.count else { return nil }
        let s = spans[i]
        if s.count >= 0 { return s }
        return make(i)
    }

    private mutating func make(_ i: Int) -> Span {
        let start = forms.count
        escape(table[i], into: &forms)
        let s = Span(start: start, count: forms.count - start)
        spans[i] = s
        made += 1
        return s
    }

    /// Appends entry `i` of the table, escaped (nothing for an index outside it: the decoder lets none through).
    @inline(__always)
    mutating func write(_ i: Int, into c: inout ByteCursor) {
        guard let s = span(i) else { return }
        forms.bytes.withUnsafeBufferPointer { c.append(UnsafeBufferPointer(rebasing: $0[s.start..<(s.start + s.count)])) }
    }

    /// True when entry `i` is the empty string (or outside the table).
    @inline(__always)
    mutating func isEmpty(_ i: Int) -> Bool {
        guard let s = span(i) else { return true }
        // Escaping leaves an empty string empty and no other string empty; JSON quotes it.
        return s.count == (style == .json ? 2 : 0)
    }
}

/// What a formatter keeps from one event to the next: the chunk's escaped strings and the last ioctl request's name
/// (a trace's ioctls are mostly one request, KVM_RUN, whose name is otherwise looked up in a dictionary per event).
struct RenderCache {
    var strings: EscapedStrings
    /// Request and fd role of the name held, as `request << 8 | role` (never `.max`).
    private var ioctlKey = UInt64.max
    /// That request's name, as this style writes it.
    private var ioctlName = TextBuffer(capacity: 0)

    /// Event kinds' and fd roles' names as this style writes them (quoted in JSON), one after the other.
    private var names = TextBuffer(capacity: 512)
    /// Where each name lies in `names`, by raw value.
    private var kindNames = InlineArray<16, Range<Int>>(repeating: 0..<0)
    private var roleNames = InlineArray<16, Range<Int>>(repeating: 0..<0)

    init(_ style: EscapedStrings.Style) {
        strings = EscapedStrings(style)
        for k in EventKind.allCases { kindNames[Int(k.rawValue) & 15] = name(k.name) }
        for r in FdKind.allCases { roleNames[Int(r.rawValue) & 15] = name(r.name) }
    }

    /// Adds our own `s` (a name from a table) to `names` as this style writes it: as it is, or quoted.
    private mutating func name(_ s: String) -> Range<Int> {
        let start = names.count
        if strings.style == .json { JSONText.quote(s, into: &names) } else { names.append(s) }
        return start..<names.count
    }

    @inline(__always)
    private func write(_ r: Range<Int>, into c: inout ByteCursor) {
        names.bytes.withUnsafeBufferPointer { c.append(UnsafeBufferPointer(rebasing: $0[r])) }
    }

    /// Appends `k.name`, quoted in JSON.
    @inline(__always) func write(_ k: EventKind, into c: inout ByteCursor) { write(kindNames[Int(k.rawValue) & 15], into: &c) }
    /// Appends `r.name`, quoted in JSON.
    @inline(__always) func write(_ r: FdKind, into c: inout ByteCursor) { write(roleNames[Int(r.rawValue) & 15], into: &c) }

    /// Appends the name of `request` on an fd of role `target` (`IoctlNames.name`), quoted in JSON.
    @inline(__always)
    mutating func writeIoctlName(request: UInt32, target: FdKind, into c: inout ByteCursor) {
        let key = UInt64(request) << 8 | UInt64(target.rawValue)
        if key != ioctlKey {
            ioctlKey = key
            ioctlName.removeAll()
            let name = IoctlNames.name(request: request, target: target)
            if strings.style == .json { JSONText.quote(name, into: &ioctlName) } else { ioctlName.append(name) }
        }
        c.append(ioctlName.bytes)
    }
}

/// Room for one line, reused from line to line: the line is written there, then appended to its `TextBuffer` at
/// once; a line that does not fit is written again with twice the room.
public final class LineScratch {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int

    public init(capacity: Int = 1 << 12) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Appends what `body` writes to `b`.
    @inline(__always)
    public func write(into b: inout TextBuffer, _ body: (inout ByteCursor) -> Void) {
        while true {
            var c = ByteCursor(base, count: capacity)
            body(&c)
            if !c.full {
                b.bytes.append(contentsOf: UnsafeBufferPointer(start: base, count: c.written(since: base)))
                return
            }
            grow()
        }
    }

    private func grow() {
        base.deallocate()
        capacity *= 2
        base = .allocate(capacity: capacity)
    }
}
