@testable import Drivers
import PoolCore
import Testing

@Suite struct MalformedTraceTests {
    let t0 = 1_372_629_804

    /// The error reading a one-VM folder whose file holds `rows`, in strict mode.
    func strictError(_ text: String, name: String = "2013-7/3.csv") -> TraceError? {
        let files = TraceFiles()
        files.write(name, text)
        do {
            _ = try BitbrainsTraceReader().read(folder: files.root)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        (field: "CPU usage [MHZ]", value: "abc", message: "'abc' is not a number"),
        (field: "CPU usage [MHZ]", value: "nan", message: "'nan' is not a number"),
        (field: "Memory usage [KB]", value: "-5", message: "-5 is not a finite amount of at least 0"),
        (field: "Memory capacity provisioned [KB]", value: "1e999", message: "1e999 is not a finite amount of at least 0"),
        (field: "CPU cores", value: "", message: "'' is not a number"),
        (field: "Disk read throughput [KB/s]", value: "1.2.3", message: "'1.2.3' is not a number"),
        (field: "Timestamp [ms]", value: "1372630104.5", message: "is not a whole number of epoch seconds"),
    ])
    func aBadFieldIsNamedWithFileAndLine(field: String, value: String, message: String) throws {
        var bad = row(t0 + 300)
        bad[BitbrainsTraceReader.columns.firstIndex(of: field)!] = value
        let error = try #require(strictError(bitbrains([row(t0), bad])))
        #expect(error.file.hasSuffix("2013-7/3.csv"))
        #expect(error.line == 3)
        #expect(error.field == field)
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func aShortRowIsNamed() throws {
        let error = try #require(strictError(bitbrains([row(t0), Array(row(t0 + 300).prefix(7))])))
        #expect(error.line == 3)
        #expect(error.description.contains("expected 11 fields separated by ';', found 7"))
    }

    @Test func timeGoingBackwardsIsNamed() throws {
        let error = try #require(strictError(bitbrains([row(t0 + 300), row(t0)])))
        #expect(error.line == 3)
        #expect(error.field == "Timestamp [ms]")
        #expect(error.message.contains("time goes backwards"))
    }

    @Test func aWrongHeaderIsNamed() throws {
        let error = try #require(strictError("Time;\tCPU cores\n1;\t2\n"))
        #expect(error.line == 1)
        #expect(error.message.contains("header"))
        let renamed = bitbrains([row(t0)]).replacingOccurrences(of: "CPU usage [MHZ]", with: "CPU use")
        let named = try #require(strictError(renamed))
        #expect(named.field == "CPU usage [MHZ]")
    }

    @Test func emptyMissingAndCorruptFilesAreNamed() throws {
        #expect(strictError("")?.message.contains("empty") == true)
        let missing = TraceFiles()
        #expect(throws: TraceError.self) { _ = try BitbrainsTraceReader().read(folder: missing.root + "/nowhere") }
        #expect { _ = try BitbrainsTraceReader().read(folder: missing.root) } throws: { error in
            (error as? TraceError)?.message.contains("no Bitbrains files") == true
        }
        // A gzip header followed by garbage.
        let corrupt = TraceFiles()
        corrupt.write("2013-7/4.csv", "")
        let path = corrupt.root + "/2013-7/4.csv.gz"
        writeBytes(path, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3] + Array(repeating: 0xff, count: 64))
        #expect { _ = try BitbrainsTraceReader().read(folder: corrupt.root) } throws: { error in
            let traceError = error as? TraceError
            return traceError?.file.hasSuffix("4.csv.gz") == true && traceError?.message.contains("decompress") == true
        }
    }

    @Test func lenientModeSkipsAndCountsBadRowsAndKeepsTheRest() throws {
        let files = TraceFiles()
        var bad = row(t0 + 300)
        bad[3] = "x"
        files.write("2013-7/3.csv", bitbrains([row(t0), bad, Array(row(t0 + 600).prefix(3)), row(t0 + 900)]))
        let (trace, report) = try BitbrainsTraceReader(lenient: true).read(folder: files.root)
        #expect(report.skippedRows == 2)
        #expect(report.skippedExamples.count == 2)
        #expect(report.skippedExamples[0].contains(":3: field 'CPU usage [MHZ]'"))
        #expect(trace.instances[0].sampleCount == 2)
        #expect(report.rows == 4)
    }
}

import Foundation

func writeBytes(_ path: String, _ bytes: [UInt8]) {
    #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
}

@Suite struct TruncatedFileTests {
    @Test func aGzipFileCutShortIsAnErrorNotAShorterTrace() throws {
        let files = TraceFiles()
        let rows = (0..<2_000).map { row(1_372_629_804 + 300 * $0, cpuMHz: String(Double($0) * 1.37)) }
        let path = files.write("2013-7/9.csv.gz", bitbrains(rows))
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try BitbrainsTraceReader(lenient: true).read(folder: files.root)
        } throws: { error in
            let traceError = error as? TraceError
            return traceError?.file == path && traceError?.message.contains("truncated") == true
        }
    }
}
