import Testing
import TraceFormat

/// The numbers `dump` prints, against values worked out by hand.
@Suite struct TextBufferTests {
    static func text(_ build: (inout TextBuffer) -> Void) -> String {
        var b = TextBuffer()
        build(&b)
        return String(decoding: b.bytes, as: UTF8.self)
    }

    @Test("seconds: nanoseconds as s.nnnnnnnnn, every fraction digit kept, up to UInt64.max")
    func seconds() {
        let cases: [(UInt64, String)] = [
            (0, "0.000000000"), (1, "0.000000001"), (999_999_999, "0.999999999"), (1_000_000_000, "1.000000000"),
            (10_000_123_456, "10.000123456"), (UInt64.max, "18446744073.709551615"),
        ]
        for (ns, expected) in cases { #expect(Self.text { $0.seconds(ns) } == expected, "\(ns)") }
    }

    @Test("duration: rounded to the microsecond, six fraction digits")
    func duration() {
        let cases: [(UInt64, String)] = [
            (0, "0.000000"), (499, "0.000000"), (500, "0.000001"), (1_234_567_890, "1.234568"), (999_999_500, "1.000000"),
            (UInt64.max, "18446744073.709552"),
        ]
        for (ns, expected) in cases { #expect(Self.text { $0.duration(ns) } == expected, "\(ns)") }
    }
}
