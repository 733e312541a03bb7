#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Runs a tool the drivers need (runc) and returns what it printed. Output goes through a
/// temporary file, not a pipe: a detached container inherits the tool's stdout, and a pipe
/// would never reach end of file.
enum Command {
    /// Runs the tool on a thread of its own: waiting for it never holds up the tasks of the
    /// cooperative pool.
    static func run(_ executable: String, _ arguments: [String]) async throws(DriverError) -> String {
        let result: Result<String, DriverError> = await Blocking.run {
            Result { () throws(DriverError) -> String in try runBlocking(executable, arguments) }
        }
        return try result.get()
    }

    /// Spawns the tool and waits for it to exit. posix_spawn, not Foundation's Process: Process
    /// learns of the exit through a socket the child inherits, which a tool that daemonizes (as
    /// QEMU does) keeps open, so it waited for ever. The child starts with no signal blocked
    /// and every signal at its default (the calling dispatch thread blocks most of them), and
    /// with no file of ours open but its standard input, output and error.
    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34), which Swift's Glibc module
    /// does not declare; nil with an older C library.
    static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    static func runBlocking(_ executable: String, _ arguments: [String]) throws(DriverError) -> String {
        let line = ([executable] + arguments).joined(separator: " ")
        var template = Array((NSTemporaryDirectory() + "poolswap-command-XXXXXX").utf8CString)
        let output = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard output >= 0 else { throw .unavailable("\(line): cannot create a file for its output: \(ControlFiles.errnoText())") }
        let outputPath = String(cString: template)
        defer {
            close(output)
            unlink(outputPath)
        }
        guard fcntl(output, F_SETFD, FD_CLOEXEC) == 0 else { throw .unavailable("\(line): fcntl on its output file: \(ControlFiles.errnoText())") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        // Nothing else of ours goes to the child: a daemon (QEMU) would keep our listening
        // socket bound after we die, and a restart could not bind its port.
        if let closeFrom = Self.closeFrom {
            let failed = closeFrom(&actions, 3)
            guard failed == 0 else { throw .unavailable("\(line): posix_spawn_file_actions_addclosefrom_np: \(String(cString: strerror(failed)))") }
        } else {
            // An older C library: each descriptor open now (glibc ignores one closed meanwhile).
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
                if let fd = Int32(name), fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
            }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard spawned == 0 else { throw .unavailable("\(line): cannot start: \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw .unavailable("\(line): waitpid: \(ControlFiles.errnoText())") }
        }
        let text = (try? ControlFiles.read(outputPath)) ?? ""
        let exited = status & 0x7f == 0
        let code = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard code == 0 else { throw .command(line, status: code, output: text.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return text
    }

    /// The full path of `name` on PATH (or in the usual system directories), or nil.
    static func find(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in path.split(separator: ":") + ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
