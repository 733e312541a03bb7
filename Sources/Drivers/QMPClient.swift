#if canImport(Glibc)
import Glibc
#endif

/// One connection to a QEMU machine's QMP socket: the greeting, `qmp_capabilities`, then
/// commands answered in order, with the asynchronous events that arrive between them kept
/// for `events` and `waitForEvent`. Blocking, with a timeout on every wait: call it from a
/// thread that may block (`QMPClient.run`), never from the cooperative pool.
public final class QMPClient {
    public let path: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var nextID = 0
    /// Events received and not yet taken, oldest first.
    public private(set) var events: [QMPEvent] = []

    /// Connects, reads the greeting and leaves capabilities negotiation. QEMU serves one client
    /// at a time; a second waits until the first disconnects, up to `timeout` seconds.
    public init(path: String, timeout: Double = 10) throws(QMPError) {
        self.path = path
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw .connect(path, "path too long for a UNIX socket") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in bytes.enumerated() { raw[i] = byte }
        }
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .connect(path, "socket: \(String(cString: strerror(errno)))") }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        // A failed init still runs deinit (every property is set), which closes the socket.
        guard connected == 0 else { throw .connect(path, String(cString: strerror(errno))) }
        let greeting = try readMessage(until: Self.now() + timeout, timeout: timeout, waitingFor: "the greeting")
        guard greeting["QMP"] != nil else { throw QMPError.protocolError(path, "expected the QMP greeting, read \(greeting)") }
        _ = try execute("qmp_capabilities", timeout: timeout)
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Runs `command` and returns its `return` value; QEMU's refusal is thrown with its class
    /// and description.
    @discardableResult
    public func execute(_ command: String, _ arguments: [String: JSONValue] = [:], timeout: Double = 30) throws(QMPError) -> JSONValue {
        nextID += 1
        let id = "poolswap-\(nextID)"
        var message: [String: JSONValue] = ["execute": .string(command), "id": .string(id)]
        if !arguments.isEmpty { message["arguments"] = .object(arguments) }
        try send(JSONValue.object(message).description + "\n", command: command)
        let deadline = Self.now() + timeout
        while true {
            let answer = try readMessage(until: deadline, timeout: timeout, waitingFor: "the answer to \(command)")
            if let event = QMPEvent(answer) {
                events.append(event)
                continue
            }
            guard answer["id"]?.string == id else { continue }
            if let error = answer["error"] {
                throw .command(path, command, errorClass: error["class"]?.string ?? "?", error["desc"]?.string ?? "\(error)")
            }
            return answer["return"] ?? .null
        }
    }

    /// The first event named `name` (and passing `matching`) among those kept or arriving within
    /// `timeout` seconds; it and the events before it are taken.
    @discardableResult
    public func waitForEvent(_ name: String, timeout: Double, matching: (QMPEvent) -> Bool = { _ in true }) throws(QMPError) -> QMPEvent {
        let deadline = Self.now() + timeout
        while true {
            if let index = events.firstIndex(where: { $0.name == name && matching($0) }) {
                let event = events[index]
                events.removeFirst(index + 1)
                return event
            }
            let message = try readMessage(until: deadline, timeout: timeout, waitingFor: "event \(name)")
            if let event = QMPEvent(message) { events.append(event) }
        }
    }

    /// The events kept so far, oldest first; they are forgotten.
    public func takeEvents() -> [QMPEvent] {
        defer { events.removeAll() }
        return events
    }

    /// Runs `body` with a fresh connection to `path` on a thread that may block, so that no
    /// task of the cooperative pool waits on QEMU.
    public static func run<T: Sendable>(_ path: String, timeout: Double = 10,
                                        _ body: @escaping @Sendable (QMPClient) throws(QMPError) -> T) async throws(QMPError) -> T {
        let result: Result<T, QMPError> = await Blocking.run {
            Result { () throws(QMPError) -> T in try body(QMPClient(path: path, timeout: timeout)) }
        }
        return try result.get()
    }

    // MARK: Wire

    private func send(_ text: String, command: String) throws(QMPError) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .closed(path, "sending \(command): \(String(cString: strerror(errno)))")
            }
            bytes = bytes.dropFirst(n)
        }
    }

    /// The next message (one JSON object a line), if it comes before `deadline`; `timeout` is
    /// the wait the caller allowed, for the error.
    private func readMessage(until deadline: Double, timeout: Double, waitingFor what: String) throws(QMPError) -> JSONValue {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[..<newline]
                buffer.removeFirst(newline + 1)
                if line.allSatisfy({ $0 == 13 || $0 == 32 }) { continue }
                guard let message = JSONValue.parse(line), case .object = message else {
                    throw .protocolError(path, "unreadable message while waiting for \(what): \(String(decoding: line.prefix(200), as: UTF8.self))")
                }
                return message
            }
            let left = deadline - Self.now()
            guard left > 0 else { throw .timeout(path, what, seconds: timeout) }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(left, 3_600) * 1_000) + 1)
            if ready < 0 {
                if errno == EINTR { continue }
                throw .closed(path, "poll: \(String(cString: strerror(errno)))")
            }
            if ready == 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw .closed(path, "while waiting for \(what): \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw .closed(path, "QEMU closed the connection while \(what) was awaited") }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}
