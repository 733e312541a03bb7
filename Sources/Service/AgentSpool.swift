import Foundation

/// The agent's disk buffer: each batch of samples is a file, written whole (to a temporary
/// name, synced, renamed) before it is sent, and deleted only once the server acknowledged it.
/// While the server is unreachable the files pile up; nothing is dropped. Names sort in the
/// order the batches were taken.
public struct AgentSpool: Sendable {
    public let directory: String
    private var next = 0

    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // A temporary file is a write a crash cut short: its batch was never acknowledged as kept.
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasSuffix(".tmp") {
            try? FileManager.default.removeItem(atPath: directory + "/" + name)
        }
        // Numbering goes on after every batch kept, sent-aside ones included, so no name repeats.
        let refused = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/refused")) ?? []
        next = ((try pending() + refused).compactMap { Int($0.prefix(16)) }.max() ?? -1) + 1
    }

    /// Batch files waiting to be sent, oldest first.
    public func pending() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted()
    }

    /// Writes `data` as the newest batch, durably.
    public mutating func append(_ data: Data) throws {
        let name = String(format: "%016ld.json", next)
        let temporary = directory + "/" + name + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else {
            throw AgentError("cannot write \(temporary)")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
        try handle.synchronize()
        try handle.close()
        if rename(temporary, directory + "/" + name) != 0 {
            throw AgentError("cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
        next += 1
    }

    public func read(_ name: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: directory + "/" + name) else { throw AgentError("cannot read \(directory)/\(name)") }
        return data
    }

    /// Forgets an acknowledged batch.
    public func remove(_ name: String) throws {
        try FileManager.default.removeItem(atPath: directory + "/" + name)
    }

    /// Sets a batch aside in `refused/` (kept, never resent), with why beside it: the server
    /// refused it, or rejected some of its samples.
    public func setAside(_ name: String, why: String) throws {
        let refused = directory + "/refused"
        try FileManager.default.createDirectory(atPath: refused, withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: directory + "/" + name, toPath: refused + "/" + name)
        _ = FileManager.default.createFile(atPath: refused + "/" + name + ".why", contents: Data(why.utf8))
    }
}

public struct AgentError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
