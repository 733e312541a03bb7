import Foundation

/// The line a test guest writes to its second serial port every second:
/// `hb SEQ UPTIME cpus=ONLINE used=KIB oom=KILLS stall=STALLS` (Tests/scripts/build_guest.sh).
/// What the guest kernel counts that the host cannot see: OOM kills and direct-reclaim stalls
/// inside the guest, and its CPUs online.
public struct GuestHeartbeat: Sendable, Equatable {
    public var sequence: Int
    /// Seconds since the guest booted.
    public var uptime: Double
    public var cpusOnline: Int
    /// Memory in use (MemTotal less MemAvailable), KiB.
    public var usedKiB: Int
    public var oomKills: Int
    public var reclaimStalls: Int

    /// Parses one line; nil when it is not a heartbeat (or was cut short).
    public init?(line: some StringProtocol) {
        let words = line.split(separator: " ")
        guard words.count >= 7, words[0] == "hb", let sequence = Int(words[1]), let uptime = Double(words[2]) else { return nil }
        var fields: [String: Int] = [:]
        for word in words.dropFirst(3) {
            let parts = word.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Int(parts[1]) { fields[String(parts[0])] = value }
        }
        guard let cpus = fields["cpus"], let used = fields["used"], let oom = fields["oom"], let stall = fields["stall"] else { return nil }
        self.sequence = sequence
        self.uptime = uptime
        cpusOnline = cpus
        usedKiB = used
        oomKills = oom
        reclaimStalls = stall
    }

    /// The last complete heartbeat in `text` (a log the guest appends to; its tty ends lines
    /// with \r\n).
    /// A line not yet ended by its newline is not read: it may be cut inside its last number.
    public static func last(in text: some StringProtocol) -> GuestHeartbeat? {
        guard let end = text.lastIndex(where: \.isNewline) else { return nil }
        for line in text[..<end].split(whereSeparator: \.isNewline).reversed() {
            if let beat = GuestHeartbeat(line: line.trimmingCharacters(in: .whitespacesAndNewlines)) { return beat }
        }
        return nil
    }
}
