/// All of a network's parameters in one flat buffer, with named views into it, so that the
/// optimiser, gradient clipping and checkpoints treat them as one vector.
public struct ParameterBuffer: Sendable, Equatable {
    /// A named block of the buffer, row-major with the given shape.
    public struct View: Sendable, Equatable {
        public var name: String
        public var offset: Int
        public var shape: [Int]
        public var count: Int { shape.reduce(1, *) }
        public var range: Range<Int> { offset..<offset + count }
    }

    public private(set) var views: [View] = []
    public var values: [Double] = []

    public init() {}

    /// Adds a block and returns its view; values start at 0.
    public mutating func add(_ name: String, shape: [Int]) -> View {
        let view = View(name: name, offset: values.count, shape: shape)
        values.append(contentsOf: repeatElement(0, count: view.count))
        views.append(view)
        return view
    }

    /// A zeroed buffer of the same layout, for gradients and optimiser moments.
    public func zeros() -> ParameterBuffer {
        var copy = self
        copy.values = [Double](repeating: 0, count: values.count)
        return copy
    }

    /// Glorot-uniform weights (fan-in and fan-out from the view's last two dimensions) from
    /// a seeded generator; biases stay 0.
    public mutating func initialise(_ view: View, using random: inout some RandomNumberGenerator) {
        guard view.shape.count >= 2 else { return }
        let fanOut = view.shape[view.shape.count - 2]
        let fanIn = view.shape[view.shape.count - 1]
        let limit = (6.0 / Double(fanIn + fanOut)).squareRoot()
        for index in view.range { values[index] = Double.random(in: -limit...limit, using: &random) }
    }
}
