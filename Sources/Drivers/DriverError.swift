import PoolCore

/// Why a driver could not do what it was asked. Every message names the instance, and the
/// file or command involved.
public enum DriverError: Error, Equatable, CustomStringConvertible {
    case unknownInstance(InstanceID)
    /// The change was refused and nothing changed: a memory limit below the working set, a
    /// resource the driver cannot set, a node it cannot reach.
    case refused(InstanceID, String)
    /// A file of the instance could not be read or written.
    case io(path: String, String)
    /// A command the driver runs failed.
    case command(String, status: Int32, output: String)
    /// The driver cannot work here (no such hierarchy, tool missing).
    case unavailable(String)

    public var description: String {
        switch self {
        case .unknownInstance(let id): "unknown instance \(id)"
        case .refused(let id, let why): "instance \(id): refused: \(why)"
        case .io(let path, let why): "\(path): \(why)"
        case .command(let command, let status, let output): "\(command) exited with status \(status): \(output)"
        case .unavailable(let why): why
        }
    }
}
