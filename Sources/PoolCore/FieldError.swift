/// Input that cannot be used as given. The message names the field (a JSON
/// path such as `instances[3].demand.cpu`) and, where there is one, the
/// instance or node.
public struct FieldError: Error, Equatable, Sendable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}
