/// Display names of migration states (v1 bitmask, v2 FSM) for dumps and reports.
public enum MigrationStateNames {
    /// v2 FSM state names by value (include/uapi/linux/vfio.h, enum vfio_device_mig_state).
    public static func v2(_ state: UInt32) -> String {
        switch state {
        case 0: "ERROR"
        case 1: "STOP"
        case 2: "RUNNING"
        case 3: "STOP_COPY"
        case 4: "RESUMING"
        case 5: "RUNNING_P2P"
        case 6: "PRE_COPY"
        case 7: "PRE_COPY_P2P"
        default: "STATE_\(state)"
        }
    }

    /// v1 bitmask: _RUNNING=1, _SAVING=2, _RESUMING=4.
    public static func v1(_ state: UInt32) -> String {
        if state == 0 { return "STOP" }
        return Hex.flags(state, [(1, "RUNNING"), (2, "SAVING"), (4, "RESUMING")])
    }

    public static func name(_ state: UInt32, protocol p: DeviceStateChange.MigrationProtocol) -> String {
        p == .v1 ? v1(state) : v2(state)
    }
}
