/// VFIO_DEVICE_GET_REGION_INFO as answered by the kernel, including the capability chain.
public struct RegionInfo: Sendable, Hashable {
    /// One mmappable area of a sparse region, relative to the region start.
    public struct Area: Sendable, Hashable, Codable {
        public var offset: UInt64
        public var size: UInt64
        public init(offset: UInt64, size: UInt64) {
            self.offset = offset
            self.size = size
        }
        public var end: UInt64 { offset.saturatingAdd(size) }
    }

    /// Region type capability (VFIO_REGION_INFO_CAP_TYPE).
    public struct RegionType: Sendable, Hashable, Codable {
        public var type: UInt32
        public var subtype: UInt32
        public init(type: UInt32, subtype: UInt32) {
            self.type = type
            self.subtype = subtype
        }
        /// The deprecated v1 migration region (type 3, subtype 1).
        public var isMigrationV1: Bool { type == 3 && subtype == 1 }
    }

    public var fd: Int32
    public var device: String
    public var index: UInt32
    /// VFIO_REGION_INFO_FLAG_*: READ=1, WRITE=2, MMAP=4, CAPS=8.
    public var flags: UInt32
    public var size: UInt64
    /// Offset of the region within the device fd (vfio-pci: index << 40).
    public var offset: UInt64
    public var regionType: RegionType?
    /// Sparse-mmap areas; nil when the kernel sent no SPARSE_MMAP capability (the whole region is mmappable if MMAP is set).
    public var sparseAreas: [Area]?

    public init(
        fd: Int32, device: String, index: UInt32, flags: UInt32, size: UInt64, offset: UInt64,
        regionType: RegionType? = nil, sparseAreas: [Area]? = nil
    ) {
        self.fd = fd
        self.device = device
        self.index = index
        self.flags = flags
        self.size = size
        self.offset = offset
        self.regionType = regionType
        self.sparseAreas = sparseAreas
    }

    public static let flagRead: UInt32 = 1
    public static let flagWrite: UInt32 = 2
    public static let flagMmap: UInt32 = 4
    public static let flagCaps: UInt32 = 8

    /// The areas a VMM may mmap, per this answer (region-relative).
    public var mmappableAreas: [Area] {
        var out: [Area] = []
        forEachMmappableArea { out.append($0) }
        return out
    }

    /// Calls `body` with each area a VMM may mmap, in order (`mmappableAreas` without building the list): none
    /// without the MMAP flag; the sparse areas of some size where the kernel sent the capability; else the whole region.
    public func forEachMmappableArea(_ body: (Area) -> Void) {
        guard flags & Self.flagMmap != 0 else { return }
        guard let sparseAreas else { return body(Area(offset: 0, size: size)) }
        for a in sparseAreas where a.size > 0 { body(a) }
    }
}
