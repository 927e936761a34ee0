import Foundation
import TraceFormat

/// What counts as "trap required" and which thresholds fail a run; loaded from a JSON file (docs/ANALYSIS.md).
public struct AnalysisPolicy: Sendable, Codable, Equatable {
    /// v1 bitmask bits that require traps while set (names RUNNING, SAVING, RESUMING or numbers).
    public var v1TrapBits: [String]
    /// v2 FSM states that require traps.
    public var v2TrapStates: [String]
    /// Region indices whose mappings are checked; nil = every region that gets mapped.
    public var regions: [UInt32]?
    /// IRQ indices whose signal means "re-evaluate mmaps" (default 5, the first device-specific index after VFIO_PCI_NUM_IRQS).
    public var reevaluateIrqIndices: [UInt32]
    /// Fail when any gap is longer than this (ns); nil = any gap fails.
    public var maxGapNs: UInt64?
    /// Fail when the remap latency p99 exceeds this (ns).
    public var maxRemapP99Ns: UInt64?
    /// Whether the VMM is expected to re-read the region info after a re-evaluate signal (the sparse-mmap
    /// protocol). False for signals the VMM answers otherwise — QEMU's INTx disables a BAR's mmaps
    /// without re-reading — so their missing re-read is not an error.
    public var expectLayoutReread: Bool

    public static let `default` = AnalysisPolicy(
        v1TrapBits: ["SAVING"], v2TrapStates: ["PRE_COPY", "PRE_COPY_P2P", "STOP_COPY"], regions: nil,
        reevaluateIrqIndices: [5], maxGapNs: nil, maxRemapP99Ns: nil, expectLayoutReread: true)

    public init(
        v1TrapBits: [String], v2TrapStates: [String], regions: [UInt32]?, reevaluateIrqIndices: [UInt32],
        maxGapNs: UInt64?, maxRemapP99Ns: UInt64?, expectLayoutReread: Bool = true
    ) {
        self.v1TrapBits = v1TrapBits
        self.v2TrapStates = v2TrapStates
        self.regions = regions
        self.reevaluateIrqIndices = reevaluateIrqIndices
        self.maxGapNs = maxGapNs
        self.maxRemapP99Ns = maxRemapP99Ns
        self.expectLayoutReread = expectLayoutReread
    }

    /// Missing keys take the default's value, so a policy file can say only what it changes.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = AnalysisPolicy.default
        v1TrapBits = try c.decodeIfPresent([String].self, forKey: .v1TrapBits) ?? d.v1TrapBits
        v2TrapStates = try c.decodeIfPresent([String].self, forKey: .v2TrapStates) ?? d.v2TrapStates
        regions = try c.decodeIfPresent([UInt32].self, forKey: .regions) ?? d.regions
        reevaluateIrqIndices = try c.decodeIfPresent([UInt32].self, forKey: .reevaluateIrqIndices) ?? d.reevaluateIrqIndices
        maxGapNs = try c.decodeIfPresent(UInt64.self, forKey: .maxGapNs)
        maxRemapP99Ns = try c.decodeIfPresent(UInt64.self, forKey: .maxRemapP99Ns)
        expectLayoutReread = try c.decodeIfPresent(Bool.self, forKey: .expectLayoutReread) ?? d.expectLayoutReread
        _ = try resolvedV1Mask()
        _ = try resolvedV2States()
    }

    /// Why a policy file was refused.
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    static let v1Names: [String: UInt32] = ["RUNNING": 1, "SAVING": 2, "RESUMING": 4]
    static let v2Names: [String: UInt32] = [
        "ERROR": 0, "STOP": 1, "RUNNING": 2, "STOP_COPY": 3, "RESUMING": 4, "RUNNING_P2P": 5, "PRE_COPY": 6, "PRE_COPY_P2P": 7,
    ]

    func resolvedV1Mask() throws(Invalid) -> UInt32 {
        var mask: UInt32 = 0
        for name in v1TrapBits {
            if let v = Self.v1Names[name.uppercased()] ?? UInt32(name) {
                mask |= v
            } else {
                throw Invalid(description: "v1TrapBits: unknown bit '\(name)' (use RUNNING, SAVING, RESUMING or a number)")
            }
        }
        return mask
    }

    func resolvedV2States() throws(Invalid) -> Set<UInt32> {
        var out = Set<UInt32>()
        for name in v2TrapStates {
            guard let v = Self.v2Names[name.uppercased()] ?? UInt32(name) else {
                throw Invalid(description: "v2TrapStates: unknown state '\(name)' (use \(Self.v2Names.keys.sorted().joined(separator: ", ")))")
            }
            out.insert(v)
        }
        return out
    }

    /// Loads and validates a policy file; errors say what is wrong and where.
    public static func load(path: String) throws(Invalid) -> AnalysisPolicy {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Invalid(description: "\(path): cannot read the policy file")
        }
        do {
            return try JSONDecoder().decode(AnalysisPolicy.self, from: data)
        } catch let e as Invalid {
            throw Invalid(description: "\(path): \(e.description)")
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx) {
            let key = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            throw Invalid(description: "\(path): \(key.isEmpty ? "" : key + ": ")\(ctx.debugDescription)")
        } catch DecodingError.dataCorrupted(let ctx) {
            throw Invalid(description: "\(path): not valid JSON: \(ctx.underlyingError.map { "\($0)" } ?? ctx.debugDescription)")
        } catch {
            throw Invalid(description: "\(path): \(error)")
        }
    }
}
