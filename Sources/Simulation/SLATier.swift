import PoolCore

/// An instance's SLA tier, from its weight: the interval level its demand is read at, and so
/// the chance of usage above its allocation it accepts (half of the rest).
public enum SLATier: Int, CaseIterable, Sendable {
    case standard, premium, critical

    public init(weight: Double) { self = weight >= 10 ? .critical : weight >= 3 ? .premium : .standard }

    /// The central interval the tier's demand is the upper bound of.
    public var level: Double { [0.8, 0.9, 0.95][rawValue] }

    public var name: String { ["standard (80%)", "premium (90%)", "critical (95%)"][rawValue] }
}
