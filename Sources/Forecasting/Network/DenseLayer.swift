// Shapes: B batch, I inputs, O outputs.   y = w x + b,  w [O, I], b [O].

/// A fully connected linear layer.
public struct DenseLayer: Sendable, Equatable {
    public let inputs: Int
    public let outputs: Int
    public let w: ParameterBuffer.View
    public let b: ParameterBuffer.View

    public init(name: String, inputs: Int, outputs: Int, parameters: inout ParameterBuffer) {
        self.inputs = inputs
        self.outputs = outputs
        w = parameters.add("\(name).w", shape: [outputs, inputs])
        b = parameters.add("\(name).b", shape: [outputs])
    }

    /// x [B, I] (row stride `xStride`) → y [B, O].
    public func forward(_ parameters: ParameterBuffer, x: UnsafePointer<Double>, xStride: Int, batch: Int) -> [Double] {
        var y = [Double](repeating: 0, count: batch * outputs)
        parameters.values.withUnsafeBufferPointer { p in
            y.withUnsafeMutableBufferPointer { yp in
                for e in 0..<batch { for o in 0..<outputs { yp[e * outputs + o] = p[b.offset + o] } }
                addMatrixVectorProducts(yp.baseAddress!, p.baseAddress! + w.offset, x, batch: batch, rows: outputs, cols: inputs, xStride: xStride, outStride: outputs)
            }
        }
        return y
    }

    /// Given dL/dy [B, O], adds dL/dparameters into `gradients` and dL/dx into `dx` [B, I] (row stride `dxStride`).
    public func backward(_ parameters: ParameterBuffer, x: UnsafePointer<Double>, xStride: Int, dy: [Double], batch: Int,
                         gradients: inout ParameterBuffer, dx: UnsafeMutablePointer<Double>, dxStride: Int) {
        parameters.values.withUnsafeBufferPointer { p in
            gradients.values.withUnsafeMutableBufferPointer { g in
                dy.withUnsafeBufferPointer { dyp in
                    for e in 0..<batch { for o in 0..<outputs { g[b.offset + o] += dyp[e * outputs + o] } }
                    addMatrixVectorProductGradients(dout: dyp.baseAddress!, w: p.baseAddress! + w.offset, x: x, dw: g.baseAddress! + w.offset, dx: dx,
                                                    batch: batch, rows: outputs, cols: inputs, xStride: xStride, doutStride: outputs, dxStride: dxStride)
                }
            }
        }
    }
}
