#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads and writes the small text files of cgroups and /proc, with the kernel's errno in
/// every error: a refused limit comes back as EBUSY or EINVAL, and the caller says why.
enum ControlFiles {
    /// The whole file as text.
    static func read(_ path: String) throws(DriverError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, "cannot open: \(errnoText())") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, "cannot read: \(errnoText())")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The file's first line as an integer; `max` (cgroup v2's unlimited) and -1 read as nil.
    static func integer(_ path: String) throws(DriverError) -> Int64? {
        let text = try read(path).split(separator: "\n").first.map(String.init) ?? ""
        let word = text.split(separator: " ").first.map(String.init) ?? ""
        if word == "max" { return nil }
        guard let value = Int64(word) else { throw .io(path: path, "expected an integer, read \"\(text)\"") }
        return value < 0 ? nil : value
    }

    /// `key value` lines (cpu.stat, memory.stat, memory.events) as a dictionary.
    static func keyed(_ path: String) throws(DriverError) -> [String: Int64] {
        var out: [String: Int64] = [:]
        for line in try read(path).split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, let value = Int64(parts[1]) { out[String(parts[0])] = value }
        }
        return out
    }

    /// Writes `text` in one write(2), as the kernel expects; throws with errno when refused.
    /// With `create`, a regular file is created or emptied first.
    static func write(_ text: String, to path: String, create: Bool = false) throws(DriverError) {
        let fd = create ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) : open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, "cannot open for writing: \(errnoText())") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw .io(path: path, "writing \"\(text)\" refused: \(errnoText())") }
    }

    /// Appends `text` to a regular file in one write(2).
    static func append(_ text: String, to path: String) throws(DriverError) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: path, "cannot open for appending: \(errnoText())") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw .io(path: path, "appending failed: \(errnoText())") }
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The last `bytes` of a file (all of it when shorter) and when it was last written,
    /// seconds since the epoch; nil when it does not exist.
    static func tail(_ path: String, bytes: Int) throws(DriverError) -> (text: String, modified: Double)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0, errno == ENOENT { return nil }
        guard fd >= 0 else { throw .io(path: path, "cannot open: \(errnoText())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(path: path, "cannot stat: \(errnoText())") }
        let start = max(0, Int(info.st_size) - bytes)
        var chunk = [UInt8](repeating: 0, count: Int(info.st_size) - start)
        let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
        guard n >= 0 else { throw .io(path: path, "cannot read: \(errnoText())") }
        let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) * 1e-9
        return (String(decoding: chunk[0..<n], as: UTF8.self), modified)
    }

    /// Seconds since the epoch.
    static func wallSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates `path` and its missing parents.
    static func makeDirectories(_ path: String) throws(DriverError) {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if isDirectory(prefix) { continue }
            if mkdir(prefix, 0o755) != 0, errno != EEXIST {
                throw .io(path: prefix, "cannot create: \(errnoText())")
            }
        }
    }

    static func removeDirectory(_ path: String) throws(DriverError) {
        if rmdir(path) != 0, errno != ENOENT { throw .io(path: path, "cannot remove: \(errnoText())") }
    }

    /// Names of the subdirectories of `path`, sorted; empty when it does not exist.
    static func subdirectories(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            if entry.pointee.d_type == UInt8(DT_DIR) || (entry.pointee.d_type == UInt8(DT_UNKNOWN) && isDirectory(path + "/" + name)) {
                names.append(name)
            }
        }
        return names.sorted()
    }

    /// Seconds on CLOCK_MONOTONIC.
    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
    }

    static func errnoText() -> String {
        let code = errno
        return String(cString: strerror(code)) + " (errno \(code))"
    }
}
