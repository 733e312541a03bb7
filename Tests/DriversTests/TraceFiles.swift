import CZlib
import Foundation

/// A scratch folder of trace files written by a test, removed when the value is dropped.
final class TraceFiles {
    let root: String

    init() {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("poolswap-test-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Writes `text` to `root/relativePath`, gzip-compressed when the name ends in `.gz`.
    @discardableResult
    func write(_ relativePath: String, _ text: String) -> String {
        let path = root + "/" + relativePath
        try! FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if path.hasSuffix(".gz") {
            let file = gzopen(path, "wb")!
            var bytes = Array(text.utf8)
            if !bytes.isEmpty { _ = gzwrite(file, &bytes, UInt32(bytes.count)) }
            gzclose(file)
        } else {
            try! text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        return path
    }
}

/// Bitbrains file text: the published header and rows, fields joined by ';' and a TAB.
func bitbrains(_ rows: [[String]]) -> String {
    let header = "Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\tMemory capacity provisioned [KB];\tMemory usage [KB];\tDisk read throughput [KB/s];\tDisk write throughput [KB/s];\tNetwork received throughput [KB/s];\tNetwork transmitted throughput [KB/s]"
    return ([header] + rows.map { $0.joined(separator: ";\t") }).joined(separator: "\n") + "\n"
}

/// A row at `time` for a VM with `cores` cores of 2000 MHz using `cpuMHz`, with memory in KB.
func row(_ time: Int, cores: Int = 2, cpuMHz: String = "1000", memoryKB: String = "4194304", memoryUsedKB: String = "1048576") -> [String] {
    let capacity = cores * 2000
    return [String(time), String(cores), String(capacity), cpuMHz, "0", memoryKB, memoryUsedKB, "0.0", "0.0", "0.0", "0.0"]
}

/// The repository root, found from this file.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
