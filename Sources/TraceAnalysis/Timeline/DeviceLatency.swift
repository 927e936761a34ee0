/// One device's latency recorders (remap total and phases, lead time, restore).
final class DeviceLatency {
    var remap = LatencyRecorder()
    var wake = LatencyRecorder()
    var reeval = LatencyRecorder()
    var eff = LatencyRecorder()
    var lead = LatencyRecorder()
    var restore = LatencyRecorder()
    var unresolved: UInt64 = 0
}
