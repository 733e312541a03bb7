/// An instance's SLA tier, from its weight: its demand is read at the upper bound of the
/// 80%, 90% or 95% central forecast interval (index `rawValue` of the forecaster's levels).
public enum SLATier: Int, CaseIterable, Sendable {
    case standard, premium, critical

    public init(weight: Double) { self = weight >= 10 ? .critical : weight >= 3 ? .premium : .standard }

    public var name: String { ["standard (80%)", "premium (90%)", "critical (95%)"][rawValue] }

    /// The chance of usage above its allocation the tier accepts at risk level 1: above the
    /// upper end of its central interval (10%, 5%, 2.5%).
    public var exceedance: Double { [0.1, 0.05, 0.025][rawValue] }
}
