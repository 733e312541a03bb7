// Shapes: B batch, I inputs, O outputs.
//
//   y = act(x w + b),  w [I, O], b [O],  act = identity or ReLU (max(0, ·))

/// A fully connected layer, linear or followed by a ReLU.
public struct DenseLayer: Sendable, Equatable {
    public enum Activation: String, Sendable, Equatable {
        case linear, relu
    }

    public let inputs: Int
    public let outputs: Int
    public let activation: Activation
    public let w: ParameterBuffer.View
    public let b: ParameterBuffer.View

    public init(name: String, inputs: Int, outputs: Int, activation: Activation = .linear, parameters: inout ParameterBuffer) {
        self.inputs = inputs
        self.outputs = outputs
        self.activation = activation
        w = parameters.add("\(name).w", shape: [inputs, outputs])
        b = parameters.add("\(name).b", shape: [outputs])
    }

    /// x [B, I] (row stride `xStride`) → y [B, O].
    public func forward(_ parameters: ParameterBuffer, x: UnsafePointer<Double>, xStride: Int, batch: Int) -> [Double] {
        var y: [Double] = []
        forward(parameters, x: x, xStride: xStride, batch: batch, into: &y)
        return y
    }

    /// x [B, I] (row stride `xStride`) → y [B, O], reusing `y`'s storage.
    public func forward(_ parameters: ParameterBuffer, x: UnsafePointer<Double>, xStride: Int, batch: Int, into y: inout [Double]) {
        y.resetToZeros(count: batch * outputs)
        parameters.values.withUnsafeBufferPointer { p in
            y.withUnsafeMutableBufferPointer { yb in
                let yp = yb.baseAddress!
                Matrix.project(x, ldx: xStride, weights: p.baseAddress! + w.offset, bias: p.baseAddress! + b.offset, into: yp,
                               rows: batch, inputs: inputs, outputs: outputs)
                if activation == .relu {
                    for index in 0..<(batch * outputs) where yp[index] < 0 { yp[index] = 0 }
                }
            }
        }
    }

    /// Given the forward output `y` [B, O] and dL/dy [B, O] (which becomes dL/d(x w + b)), adds
    /// dL/dparameters into `gradients` and, when `dx` is given, dL/dx into it [B, I] (row stride
    /// `dxStride`). `scratch` holds wᵀ.
    public func backward(_ parameters: ParameterBuffer, x: UnsafePointer<Double>, xStride: Int, y: [Double], dy: inout [Double], batch: Int,
                         gradients: inout ParameterBuffer, dx: UnsafeMutablePointer<Double>?, dxStride: Int, scratch: inout [Double]) {
        precondition(y.count == batch * outputs && dy.count == batch * outputs, "y and dy must be [B, O]")
        if activation == .relu {
            for index in 0..<(batch * outputs) where y[index] <= 0 { dy[index] = 0 }
        }
        if dx != nil { scratch.resetToZeros(count: inputs * outputs) }
        parameters.values.withUnsafeBufferPointer { p in
            gradients.values.withUnsafeMutableBufferPointer { g in
                dy.withUnsafeBufferPointer { dyb in
                    scratch.withUnsafeMutableBufferPointer { t in
                        Matrix.projectBackward(x, ldx: xStride, weights: p.baseAddress! + w.offset, dpre: dyb.baseAddress!,
                                               dw: g.baseAddress! + w.offset, db: g.baseAddress! + b.offset, dx: dx, lddx: dxStride,
                                               scratch: t.baseAddress, rows: batch, inputs: inputs, outputs: outputs)
                    }
                }
            }
        }
    }
}
