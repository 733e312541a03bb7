/// Why a QMP exchange failed, naming the socket and the command.
public enum QMPError: Error, Equatable, CustomStringConvertible {
    case connect(String, String)
    case timeout(String, String, seconds: Double)
    case closed(String, String)
    case protocolError(String, String)
    /// QEMU answered with an error.
    case command(String, String, errorClass: String, String)

    public var description: String {
        switch self {
        case .connect(let path, let why): "QMP \(path): cannot connect: \(why)"
        case .timeout(let path, let what, let seconds): "QMP \(path): no \(what) within \(seconds) s"
        case .closed(let path, let why): "QMP \(path): \(why)"
        case .protocolError(let path, let why): "QMP \(path): \(why)"
        case .command(let path, let command, let errorClass, let why): "QMP \(path): \(command) refused (\(errorClass)): \(why)"
        }
    }
}
