import Storage

/// Who is calling: a token's role, and its tenant when it sees one tenant only.
public struct Principal: Sendable, Equatable {
    public var name: String
    public var role: TokenRecord.Role
    public var tenant: String?

    public enum Action: Sendable { case read, operate, administer }

    /// admin: everything; operator: read, push usage, request and execute swaps; reader: read.
    public func may(_ action: Action) -> Bool {
        switch action {
        case .read: true
        case .operate: role != .reader
        case .administer: role == .admin
        }
    }

    /// True when this principal may see an object of `tenant`.
    public func sees(tenant other: String?) -> Bool { tenant == nil || tenant == other }
}
