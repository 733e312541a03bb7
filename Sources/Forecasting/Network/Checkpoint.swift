/// A network's shape and parameters as bytes, with a format version checked on load.
///
/// Layout: the magic `PSWPCKPT`, a little-endian UInt32 format version, UInt32 length of a
/// UTF-8 header (`cell features context hidden mlp horizons steps q1,q2,… interval h1,h2,…`), the
/// header, UInt64 parameter count, then the parameters as little-endian IEEE-754 doubles.
/// Version 2 added the context features, the head's hidden layer and the window length, and
/// stores weights input-major; a version 2 header without the last two fields (written before
/// intervals other than 300 s) reads as 300 s and horizons 1, 2, …
public enum Checkpoint {
    public static let formatVersion: UInt32 = 2
    static let magic = Array("PSWPCKPT".utf8)

    public struct LoadError: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    public static func encode(_ network: RecurrentNetwork) -> [UInt8] {
        var bytes = magic
        append(formatVersion, to: &bytes)
        let shape = network.shape
        let header = Array("\(shape.cell.rawValue) \(shape.features) \(shape.context) \(shape.hidden) \(shape.mlp) \(shape.horizons) \(shape.steps) \(shape.quantiles.map { "\($0)" }.joined(separator: ","))\(cadence(shape))".utf8)
        append(UInt32(header.count), to: &bytes)
        bytes += header
        append(UInt64(network.parameters.values.count), to: &bytes)
        for value in network.parameters.values { append(value.bitPattern, to: &bytes) }
        return bytes
    }

    /// The header's interval and horizon slots; left out at 300 s and horizons 1, 2, …, as
    /// before they existed, so that those checkpoints stay byte for byte what they were.
    private static func cadence(_ shape: RecurrentNetwork.Shape) -> String {
        shape.interval == 300 && shape.horizonSlots == Array(1...shape.horizons) ? ""
            : " \(shape.interval) \(shape.horizonSlots.map(String.init).joined(separator: ","))"
    }

    public static func decode(_ bytes: [UInt8]) throws(LoadError) -> RecurrentNetwork {
        var reader = ByteReader(bytes: bytes)
        guard reader.take(magic.count) == magic else { throw LoadError(description: "not a Poolswap checkpoint (no PSWPCKPT magic)") }
        let version: UInt32 = try reader.integer()
        guard version == formatVersion else {
            throw LoadError(description: "checkpoint format version \(version) is not the supported version \(formatVersion); retrain or convert it")
        }
        let headerLength: UInt32 = try reader.integer()
        guard let headerBytes = reader.take(Int(headerLength)) else { throw LoadError(description: "checkpoint header is truncated") }
        let fields = String(decoding: headerBytes, as: UTF8.self).split(separator: " ")
        guard fields.count == 8 || fields.count == 10, let cell = RecurrentNetwork.Cell(rawValue: String(fields[0])),
              let features = Int(fields[1]), let context = Int(fields[2]), let hidden = Int(fields[3]), let mlp = Int(fields[4]),
              let horizons = Int(fields[5]), let steps = Int(fields[6]), steps > 0, steps <= 4096,
              case let texts = fields[7].split(separator: ",", omittingEmptySubsequences: false),
              case let quantiles = texts.compactMap({ Double($0) }), quantiles.count == texts.count,
              quantiles.allSatisfy({ $0 > 0 && $0 < 1 }),
              features > 0, context >= 0, hidden > 0, mlp >= 0, horizons > 0,
              [features, context, hidden, mlp, horizons].allSatisfy({ $0 <= 4096 }) else {
            throw LoadError(description: "checkpoint header '\(String(decoding: headerBytes, as: UTF8.self))' is not 'cell features context hidden mlp horizons steps quantiles [interval horizon-slots]'")
        }
        var interval = 300, slots = Array(1...horizons)
        if fields.count == 10 {
            let texts = fields[9].split(separator: ",")
            guard let seconds = Int(fields[8]), seconds > 0, case let read = texts.compactMap({ Int($0) }), read.count == texts.count,
                  read.count == horizons, read.allSatisfy({ $0 > 0 }) else {
                throw LoadError(description: "checkpoint header '\(String(decoding: headerBytes, as: UTF8.self))': interval '\(fields[8])' and horizon slots '\(fields[9])' are not a positive number of seconds and \(horizons) positive slot counts")
            }
            (interval, slots) = (seconds, read)
        }
        var network = RecurrentNetwork(
            shape: .init(cell: cell, features: features, context: context, hidden: hidden, mlp: mlp, horizons: horizons, quantiles: quantiles, steps: steps,
                         interval: interval, horizonSlots: slots), seed: 0)
        let count: UInt64 = try reader.integer()
        guard count == UInt64(network.parameters.values.count) else {
            throw LoadError(description: "checkpoint holds \(count) parameters; its shape needs \(network.parameters.values.count)")
        }
        for index in network.parameters.values.indices {
            let bits: UInt64 = try reader.integer()
            let value = Double(bitPattern: bits)
            guard value.isFinite else { throw LoadError(description: "checkpoint parameter \(index) is \(value), not a finite number") }
            network.parameters.values[index] = value
        }
        guard reader.isAtEnd else { throw LoadError(description: "checkpoint has \(reader.remaining) bytes after its parameters") }
        return network
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    private struct ByteReader {
        let bytes: [UInt8]
        var position = 0
        var isAtEnd: Bool { position == bytes.count }
        var remaining: Int { bytes.count - position }

        mutating func take(_ count: Int) -> [UInt8]? {
            guard count >= 0, position + count <= bytes.count else { return nil }
            defer { position += count }
            return Array(bytes[position..<position + count])
        }

        mutating func integer<T: FixedWidthInteger>() throws(LoadError) -> T {
            guard let raw = take(MemoryLayout<T>.size) else { throw LoadError(description: "checkpoint is truncated") }
            var value: T = 0
            for (shift, byte) in raw.enumerated() { value |= T(byte) << (8 * shift) }
            return value
        }
    }
}
