import Foundation

/// Runs a tool the drivers need (runc) and returns what it printed. Output goes through a
/// temporary file, not a pipe: a detached container inherits the tool's stdout, and a pipe
/// would never reach end of file.
enum Command {
    /// Runs the tool on a thread of its own: waiting for it never holds up the tasks of the
    /// cooperative pool.
    static func run(_ executable: String, _ arguments: [String]) async throws(DriverError) -> String {
        let result: Result<String, DriverError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(DriverError) -> String in try runBlocking(executable, arguments) })
            }
        }
        return try result.get()
    }

    static func runBlocking(_ executable: String, _ arguments: [String]) throws(DriverError) -> String {
        let line = ([executable] + arguments).joined(separator: " ")
        let outputPath = NSTemporaryDirectory() + "poolswap-command-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: outputPath, contents: nil),
              let output = FileHandle(forWritingAtPath: outputPath) else {
            throw .unavailable("\(line): cannot create \(outputPath) for its output")
        }
        defer {
            try? output.close()
            try? FileManager.default.removeItem(atPath: outputPath)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        do { try process.run() } catch { throw .unavailable("\(line): cannot start: \(error.localizedDescription)") }
        process.waitUntilExit()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw .command(line, status: process.terminationStatus, output: text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return text
    }

    /// The full path of `name` on PATH, or nil.
    static func find(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in path.split(separator: ":") + ["/usr/sbin", "/sbin"] {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
