import CZlib

/// Writes a file, gzip-compressed when its name ends in `.gz`, through a buffer.
public final class CompressedFileWriter {
    public let path: String
    private let file: gzFile
    private var buffer: [UInt8] = []

    public init(path: String) throws(TraceError) {
        self.path = path
        let compressed = path.hasSuffix(".gz")
        guard let file = gzopen(path, compressed ? "wb6" : "wbT") else {
            throw TraceError(file: path, message: "cannot create the file")
        }
        self.file = file
        buffer.reserveCapacity(1 << 16)
    }

    public func write(_ text: String) throws(TraceError) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { try flush() }
    }

    private func flush() throws(TraceError) {
        guard !buffer.isEmpty else { return }
        let written = buffer.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
        guard written == Int32(buffer.count) else {
            var code: Int32 = 0
            throw TraceError(file: path, message: "cannot write: \(String(cString: gzerror(file, &code)))")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes what is buffered and closes the file; the file is complete only after this.
    public func close() throws(TraceError) {
        try flush()
        guard gzclose(file) == Z_OK else { throw TraceError(file: path, message: "cannot finish writing the file") }
    }
}
