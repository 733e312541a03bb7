/// An asynchronous message from QEMU: `MIGRATION`, `BALLOON_CHANGE`, `SHUTDOWN`,
/// `GUEST_PANICKED`, `DEVICE_DELETED`, ...
public struct QMPEvent: Sendable, Equatable {
    public var name: String
    public var data: JSONValue
    /// Seconds since the epoch, as QEMU stamped it.
    public var timestamp: Double

    init?(_ message: JSONValue) {
        guard let name = message["event"]?.string else { return nil }
        self.name = name
        data = message["data"] ?? .null
        let stamp = message["timestamp"]
        timestamp = (stamp?["seconds"]?.double ?? 0) + (stamp?["microseconds"]?.double ?? 0) * 1e-6
    }
}
