import CZlib
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file into memory, decompressing it when it is gzip (zlib reads plain files
/// unchanged, so `.csv` and `.csv.gz` go through the same path).
public enum CompressedFile {
    public static func read(_ path: String) throws(TraceError) -> [UInt8] {
        guard let file = gzopen(path, "rb") else {
            throw TraceError(file: path, message: "cannot open the file (\(String(cString: strerror(errno))))")
        }
        defer { gzclose(file) }
        gzbuffer(file, 1 << 17)
        var bytes: [UInt8] = []
        let chunk = 1 << 18
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let readCount = gzread(file, buffer, UInt32(chunk))
            if readCount < 0 {
                var code: Int32 = 0
                let message = String(cString: gzerror(file, &code))
                throw TraceError(file: path, message: "cannot decompress the file: \(message)")
            }
            if readCount == 0 { break }
            bytes.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: Int(readCount)))
        }
        // zlib reports a stream cut short only through gzerror: a short read is not an error.
        var code: Int32 = 0
        let message = String(cString: gzerror(file, &code))
        if code != Z_OK {
            throw TraceError(file: path, message: "the compressed file is truncated or damaged: \(message)")
        }
        return bytes
    }
}
